"""ASL scenarios as data: (definition, input, services) -> expected end.

The same tables run through the pure driver (tests/unit), the embedded engine on the
in-memory transport, and the distributed engine on RabbitMQ + PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scenario:
    name: str
    definition: dict[str, Any]
    input: Any
    expect: dict[
        str, Any
    ]  # {"status": "SUCCEEDED", "output": ...} or {"status": "FAILED", "error": ..., "cause"?: ...}
    services: dict[str, str] = field(default_factory=dict)  # resource -> "module:function"

    @property
    def id(self) -> str:
        return self.name


def all_scenarios() -> list[Scenario]:
    from tests.scenarios import dataflow, errors, flow, forks, jsonata_lang

    return [
        *dataflow.SCENARIOS,
        *flow.SCENARIOS,
        *errors.SCENARIOS,
        *forks.SCENARIOS,
        *jsonata_lang.SCENARIOS,
    ]
