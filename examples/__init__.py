"""Runnable StateHop examples: one folder per workflow (machine, handlers, cases, README)."""
