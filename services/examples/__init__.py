"""Runnable example services (``python -m services.examples.order_service``)."""
