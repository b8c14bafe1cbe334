"""Opaque, query-bound pagination tokens (keyset, never OFFSET).

A token carries the last key seen and a fingerprint of the query it came from, so a page
costs an index range scan however deep it is, and a token replayed against another query is
refused with InvalidToken, as AWS does.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from runtime.store.errors import InvalidToken, ValidationError

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def page_size(max_results: int | None) -> int:
    """AWS semantics: 0 or None means the default (100); more than 1000 is refused."""
    if max_results is None or max_results == 0:
        return DEFAULT_PAGE
    if max_results < 0 or max_results > MAX_PAGE:
        raise ValidationError(f"maxResults must be between 0 and {MAX_PAGE}, got {max_results}")
    return max_results


def _fingerprint(query: tuple[Any, ...]) -> str:
    return hashlib.sha256(orjson.dumps(query, default=str)).hexdigest()[:16]


def encode_token(query: tuple[Any, ...], after: Any) -> str:
    raw = orjson.dumps({"q": _fingerprint(query), "a": after})
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(query: tuple[Any, ...], token: str | None) -> Any:
    """The key to continue after, or None for the first page."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        fingerprint, after = data["q"], data["a"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidToken(f"Invalid Token: {token!r}") from exc
    if fingerprint != _fingerprint(query):
        raise InvalidToken("Invalid Token: it belongs to a different query")
    return after
