"""The HTTP API: routes only; storage and model code live elsewhere."""
