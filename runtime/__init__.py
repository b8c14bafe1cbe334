"""StateHop: a self-hosted runtime for Amazon States Language state machines."""

__version__ = "0.1.0"
