"""The unit of work: every store operation, grouped by feature, on one connection."""

from __future__ import annotations

from runtime.store.tx.activities import ActivitiesMixin
from runtime.store.tx.delivery import DeliveryMixin
from runtime.store.tx.executions import ExecutionsMixin
from runtime.store.tx.history import HistoryMixin
from runtime.store.tx.map_runs import MapRunsMixin
from runtime.store.tx.tokens import TokensMixin


class Transaction(ExecutionsMixin, ActivitiesMixin, HistoryMixin, DeliveryMixin, MapRunsMixin, TokensMixin):
    """All operations, run inside one database transaction (see ``Store.transaction``)."""


__all__ = ["Transaction"]
