"""One API server per backend for the whole session: embedded, and RabbitMQ + PostgreSQL.

The RabbitMQ + PostgreSQL server is found (or started) by tests/support; when neither can be
reached the tests FAIL saying what is missing. They never skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.harness import ApiServer, broker_runtime, embedded_runtime
from tests.support.broker import find_amqp_url
from tests.support.db import require_postgres


def _start(backend: str) -> ApiServer:
    if backend == "embedded":
        return ApiServer(embedded_runtime).start()
    return ApiServer(broker_runtime(find_amqp_url(), require_postgres())).start()


@pytest.fixture(scope="session", params=["embedded", pytest.param("rabbitmq", marks=pytest.mark.integration)])
def server(request: pytest.FixtureRequest) -> Iterator[ApiServer]:
    """The API on the embedded runtime, then on RabbitMQ + PostgreSQL."""
    api = _start(str(request.param))
    yield api
    api.stop()


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[ApiServer]:
    """The API on the embedded runtime only (auth, REST and TestState details)."""
    api = _start("embedded")
    yield api
    api.stop()
