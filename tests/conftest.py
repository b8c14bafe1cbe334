"""Shared fixtures for the whole suite: RabbitMQ and PostgreSQL are found or started, never
skipped (tests/support/broker.py, tests/support/db.py)."""

pytest_plugins = ["tests.support.db", "tests.support.broker"]
