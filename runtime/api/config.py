"""The API's view of the configuration: authentication and long polls.

Built from :class:`runtime.config.Settings` (``api_auth``, ``access_keys``, ``api_tokens``,
``activity_poll_seconds``, ``sync_timeout_seconds``), checked once more here so a bad mode
stops the role at start; tests can pass explicit values instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SIGV4 = "sigv4"
BEARER = "bearer"
OPEN = "open"
MODES = frozenset({SIGV4, BEARER, OPEN})


class ApiConfigError(ValueError):
    """An API setting that cannot be understood: the role refuses to start."""


def _modes(text: str) -> frozenset[str]:
    modes = frozenset(m.strip().lower() for m in text.split(",") if m.strip())
    if not modes or not modes <= MODES:
        raise ApiConfigError(f"STATEHOP_API_AUTH={text!r}: use 'open', 'sigv4', 'bearer' or 'sigv4,bearer'")
    if OPEN in modes and len(modes) > 1:
        raise ApiConfigError("STATEHOP_API_AUTH: 'open' cannot be combined with other modes")
    return modes


@dataclass(frozen=True)
class ApiSettings:
    """How the API authenticates callers, and how long its long polls wait.

    ``auth`` is ``{"open"}`` (no checks: local development only) or a set of accepted
    credentials: ``"sigv4"`` (AWS Signature V4 with a key from ``access_keys``) and/or
    ``"bearer"`` (``Authorization: Bearer <token>`` with a token from ``tokens``).
    """

    auth: frozenset[str] = frozenset({SIGV4, BEARER})
    access_keys: Mapping[str, str] = field(default_factory=dict)
    tokens: frozenset[str] = frozenset()
    max_clock_skew_seconds: float = 900.0
    activity_poll_seconds: float = 60.0
    sync_timeout_seconds: float = 300.0

    @property
    def open(self) -> bool:
        return OPEN in self.auth

    @classmethod
    def from_settings(cls, settings: Any) -> ApiSettings:
        try:
            return cls(
                auth=_modes(settings.api_auth),
                access_keys=dict(settings.access_keys),
                tokens=frozenset(t for t in settings.api_tokens if t),
                activity_poll_seconds=settings.activity_poll_seconds,
                sync_timeout_seconds=settings.sync_timeout_seconds,
            )
        except ValueError as exc:
            raise ApiConfigError(str(exc)) from None
