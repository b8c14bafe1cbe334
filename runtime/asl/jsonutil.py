"""JSON helpers shared by the core: compact dumps as AWS prints documents in error causes."""

from __future__ import annotations

import json
from typing import Any


def dumps_compact(value: Any) -> str:
    """JSON without spaces, as AWS quotes inputs in error causes."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
