"""Thin commands that call library functions."""
