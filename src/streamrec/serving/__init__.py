"""Serving: what the request path computes from stores and the active model."""
