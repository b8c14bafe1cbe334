"""The request body limit, enforced before any handler (or FastAPI's body parsing) runs.

Payload members are measured against ``max_payload_bytes`` by the model check; this guards
memory against bodies far larger than any valid request. The rest of an oversized body is
still read (up to a bound) so the client gets the 400 instead of a connection reset in the
middle of its upload.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.api.errors import ApiError
from runtime.api.protocol import CONTENT_TYPE, aws_json
from runtime.api.rest import rest_error

#: A client that keeps sending past the limit is cut off after this many times the limit.
DRAIN_FACTOR = 16


def body_limit(max_payload_bytes: int) -> int:
    """Largest request body: a payload member JSON-escaped inside the request, plus slack."""
    return 4 * max_payload_bytes + 64 * 1024


def too_large(size: int, limit: int) -> ApiError:
    return ApiError(
        "ValidationException",
        f"The request body is {size} bytes or more, above the limit of {limit} bytes "
        "(4 x STATEHOP_MAX_PAYLOAD_BYTES + 64 KiB)",
    )


class BodyLimit:
    """ASGI middleware: read the body up to ``limit``, answer 400 past it, else replay it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body = message.get("body", b"")
            size += len(body)
            more = bool(message.get("more_body", False))
            if size <= self.limit:
                chunks.append(body)
            elif size > self.limit * DRAIN_FACTOR:
                break
        if size > self.limit:
            error = too_large(size, self.limit)
            response: Response
            if scope.get("path") == "/" and scope.get("method") == "POST":  # the AWS door
                response = Response(
                    aws_json(error.body()),
                    400,
                    media_type=CONTENT_TYPE,
                    headers={"x-amzn-ErrorType": error.code},
                )
            else:
                response = rest_error(error)
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # after the body: disconnect notices

        await self.app(scope, replay, send)
