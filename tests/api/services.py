"""Task services the API tests run: a callback recorder, a flaky task and an echo.

They run inside the server's thread, so what they record goes through thread-safe boxes the
test thread reads.
"""

from __future__ import annotations

import threading
from typing import Any


class FlakyError(Exception):
    """Raised by ``flaky`` the first time it sees a key."""


class TokenBox:
    """Task tokens handed to ``notify``, by the ``key`` in their payload."""

    def __init__(self) -> None:
        self._tokens: dict[str, list[str]] = {}
        self._cond = threading.Condition()

    def put(self, key: str, token: str) -> None:
        with self._cond:
            self._tokens.setdefault(key, []).append(token)
            self._cond.notify_all()

    def get(self, key: str, timeout: float = 30.0) -> str:
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._tokens.get(key)), timeout):
                raise TimeoutError(f"no task token for {key!r} within {timeout}s")
            return self._tokens[key].pop(0)


TOKENS = TokenBox()
_seen: set[str] = set()
_seen_lock = threading.Lock()


def notify(payload: Any) -> None:
    """A ``.waitForTaskToken`` task: hands its token over and leaves the answer to the API."""
    TOKENS.put(str(payload["key"]), str(payload["token"]))


def flaky(payload: Any) -> dict[str, Any]:
    """Fails the first call per key, succeeds after (a redrive runs it again)."""
    key = str(payload["key"])
    with _seen_lock:
        first = key not in _seen
        _seen.add(key)
    if first:
        raise FlakyError(f"first call for {key}")
    return {"ok": True, "key": key}


def echo(payload: Any) -> Any:
    return payload


SERVICES = {"notify": notify, "flaky": flaky, "echo": echo}
