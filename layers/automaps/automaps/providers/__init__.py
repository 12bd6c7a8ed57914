"""Adapters for outside services reached over HTTP (one module each)."""
