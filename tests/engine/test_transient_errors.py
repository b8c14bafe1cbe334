"""Which failures of a hop are retried (requeued) rather than failing the execution."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from runtime.engine.engine import is_transient
from runtime.store.errors import TransientStoreError
from runtime.transport.base import TransportUnavailable


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _dbapi(sqlstate: str) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError("SELECT 1", {}, _Orig(sqlstate))


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (TransientStoreError("deadlock"), True),
        (TransportUnavailable("broker down"), True),
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (_dbapi("53300"), True),  # too many connections
        (_dbapi("08006"), True),  # connection failure
        (_dbapi("57P01"), True),  # admin shutdown
        (_dbapi("40P01"), True),  # deadlock detected
        (_dbapi("23505"), False),  # unique violation: a bug, not timing
        (_dbapi("42P01"), False),  # undefined table
        (ValueError("bad data"), False),
        (KeyError("state"), False),
    ],
)
def test_is_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient
