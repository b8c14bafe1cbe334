"""Human approval links: ``GET /v1/approvals/{token}/approve`` and ``.../decline``.

A workflow that waits for a person (``.waitForTaskToken``, or an activity) hands its task token
to a service that emails the person two links built by :func:`approval_links`. Clicking one
answers the task, as the API Gateway endpoints of AWS's human approval sample do:

* approve: SendTaskSuccess with the output ``{"Status": "Approved"}`` (plus ``"Comment"`` when
  the link carries ``?comment=...``);
* decline: SendTaskFailure with the error ``Rejected`` (:data:`REJECTED`) and a cause naming
  the reviewer's comment.

The token is the credential: these routes take no other authentication (a person clicking a
link in an email has no API key). That is safe because a token is an HMAC the engine derives
from a secret (48 hex characters: not guessable, not enumerable), it answers only the one task
it was issued for (never another execution, never any other action), and it answers it once:
a second click, or a click after a timeout or a stop, changes nothing.

The answer is a small HTML page saying what happened, with a status a script can check:
200 (your answer was taken), 202 (taken, the workflow has not applied it yet), 404 (unknown
link), 410 (the request was already answered, expired or its workflow ended), 400 (a comment
over :data:`MAX_COMMENT` characters), 503 (the store is busy: click again).

An answer is only final once the engine has applied it, so after handing it over the route
waits (at most :data:`SETTLE_SECONDS`) for the task to settle and reports the outcome that
actually won: when two people click "approve" and "decline" at the same moment, exactly one of
them is thanked and the other is told the request was already answered.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import time
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

import orjson
from fastapi import APIRouter, Query, Response

from runtime import taskwire
from runtime.api.service import ApiContext
from runtime.store import TaskDoesNotExist, TransientStoreError
from runtime.store.records import ExecutionStatus, TaskToken, TaskTokenStatus

log = logging.getLogger("statehop.api.approvals")

#: The environment variable holding the API's public base URL (what a reviewer's browser reaches).
PUBLIC_URL_ENV = "STATEHOP_PUBLIC_URL"
#: Used, with a warning, when STATEHOP_PUBLIC_URL is not set (the API's default port).
DEFAULT_PUBLIC_URL = "http://localhost:8080"
#: The output of an approval.
APPROVED = "Approved"
#: The error of a declined request (as the "Rejected" outcome of AWS's human approval sample).
REJECTED = "Rejected"
#: Longest accepted ``?comment=`` (characters).
MAX_COMMENT = 1000
#: Longest accepted token: AWS's limit for task tokens (StateHop's are 48 characters).
MAX_TOKEN = 1024
#: How long a click waits for the engine to apply its answer before answering 202.
SETTLE_SECONDS = 5.0

_PREFIX = "/v1/approvals"
_warned_default = False


# --- links ------------------------------------------------------------------------------


class ApprovalLinks(NamedTuple):
    approve: str
    decline: str


def public_url(base_url: str | None = None) -> str:
    """The API's public base URL: ``base_url``, else ``$STATEHOP_PUBLIC_URL``, else the default.

    A path is kept (``https://example.com/statehop`` behind a reverse proxy); a trailing slash
    is dropped. Anything but an absolute http(s) URL without query or fragment is refused.
    """
    global _warned_default
    raw = base_url if base_url is not None else os.environ.get(PUBLIC_URL_ENV, "").strip()
    if not raw:
        if not _warned_default:
            log.warning(
                "%s is not set: approval links point at %s, which a reviewer's browser may not "
                "reach; set it to the API's public base URL",
                PUBLIC_URL_ENV,
                DEFAULT_PUBLIC_URL,
            )
            _warned_default = True
        raw = DEFAULT_PUBLIC_URL
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        source = "base_url" if base_url is not None else PUBLIC_URL_ENV
        raise ValueError(
            f"{source}={raw!r}: expected the API's absolute base URL, e.g. https://statehop.example.com"
        )
    return raw.rstrip("/")


def approval_links(token: str, base_url: str | None = None) -> ApprovalLinks:
    """The approve and decline links of a task token, under the API's public base URL.

    ``base_url`` defaults to ``$STATEHOP_PUBLIC_URL`` (read at each call). A reviewer may add
    ``?comment=...``; the links themselves carry nothing but the token.
    """
    if not token:
        raise ValueError("approval_links: the task token is empty")
    root = f"{public_url(base_url)}{_PREFIX}/{quote(token, safe='')}"
    return ApprovalLinks(approve=f"{root}/approve", decline=f"{root}/decline")


# --- pages ------------------------------------------------------------------------------

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never pass it on
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;
color:#222}}h1{{font-size:1.4rem}}p{{line-height:1.5}}</style></head>
<body><h1>{title}</h1><p>{message}</p></body></html>
"""


def page(status: int, title: str, message: str) -> Response:
    body = _PAGE.format(title=html.escape(title), message=html.escape(message))
    return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers=_HEADERS)


def _when(moment: datetime | None) -> str:
    return f" on {moment.strftime('%Y-%m-%d at %H:%M UTC')}" if moment is not None else ""


def _settled_page(task: TaskToken, execution_status: ExecutionStatus | None) -> Response:
    """410: the task waits for no answer any more; say why, as far as the store knows."""
    when = _when(task.completion_date)
    if task.status is TaskTokenStatus.SUCCEEDED:
        output = _loads(task.output)
        if isinstance(output, dict) and output.get("Status") == APPROVED:
            return page(410, "Already answered", f"This request was already approved{when}.")
        return page(410, "Already answered", f"This request was already answered{when}.")
    if task.status is TaskTokenStatus.FAILED:
        if task.error == REJECTED:
            return page(410, "Already answered", f"This request was already declined{when}.")
        return page(410, "Already answered", f"This request was already answered{when}.")
    if task.status is TaskTokenStatus.TIMED_OUT:
        return page(410, "Link expired", f"Nobody answered in time: this request expired{when}.")
    status = execution_status.value.lower() if execution_status is not None else "ended"
    return page(
        410,
        "No longer waiting",
        f"The workflow that asked for this approval has {status.replace('_', ' ')}: "
        "there is nothing left to answer.",
    )


def _loads(text: str | None) -> Any:
    try:
        return orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        return None


# --- routes -----------------------------------------------------------------------------


def router(ctx: ApiContext) -> APIRouter:
    """The approve/decline routes. Deliberately without the API's authentication: see above."""
    routes = APIRouter(prefix=_PREFIX, tags=["approvals"])

    async def read(token: str) -> tuple[TaskToken, ExecutionStatus]:
        async with ctx.store.transaction(readonly=True) as tx:
            task = await tx.get_task_token(token)
            execution = await tx.get_execution(task.execution_arn)
        return task, execution.status

    async def settle(token: str) -> TaskToken | None:
        """The task once the engine applied an answer, or None after SETTLE_SECONDS."""
        deadline = time.monotonic() + SETTLE_SECONDS
        delay = 0.01
        while True:
            async with ctx.store.transaction(readonly=True) as tx:
                task = await tx.get_task_token(token)
            if task.status is not TaskTokenStatus.PENDING:
                return task
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def click(token: str, kind: str, body: dict[str, Any], comment: str | None) -> Response:
        if not token or len(token) > MAX_TOKEN:
            return page(404, "Unknown link", "This approval link is not valid: was it copied whole?")
        if comment is not None and len(comment) > MAX_COMMENT:
            return page(400, "Comment too long", f"Keep the comment under {MAX_COMMENT} characters.")
        action = "approved" if kind == taskwire.SUCCESS else "declined"
        try:
            task, execution_status = await read(token)
            if task.status is not TaskTokenStatus.PENDING or execution_status is not ExecutionStatus.RUNNING:
                return _settled_page(task, execution_status)
            data = orjson.dumps(body)
            if len(data) > ctx.settings.max_payload_bytes:
                return page(400, "Comment too long", "The answer is larger than this server accepts.")
            if not await ctx.engine.answer_task(token, kind, data, callback=True):
                return _settled_page(*await read(token))
            log.info("approval link: task %s... of %s %s", token[:12], task.execution_arn, action)
            settled = await settle(token)
        except TaskDoesNotExist:
            return page(404, "Unknown link", "This approval link is not valid, or its workflow was deleted.")
        except TransientStoreError:
            return page(503, "Please try again", "The server is busy. Click the link again in a moment.")
        except Exception:
            log.exception("approval link: unexpected error")
            return page(500, "Something went wrong", "Your answer may not have been recorded: try later.")
        if settled is None:
            return page(
                202,
                "Answer received",
                f"Your answer ({action}) was received and the workflow will go on shortly.",
            )
        mine = (
            settled.status is TaskTokenStatus.SUCCEEDED and _loads(settled.output) == body
            if kind == taskwire.SUCCESS
            else settled.status is TaskTokenStatus.FAILED
            and settled.error == body["error"]
            and settled.cause == body["cause"]
        )
        if not mine:  # someone else's answer got there first
            return _settled_page(settled, None)
        if kind == taskwire.SUCCESS:
            return page(200, "Approved \u2014 thank you", "The request is approved; the workflow goes on.")
        return page(200, "Declined \u2014 thank you", "The request is declined; the workflow was told.")

    comment_query = Query(None, description=f"an optional note (at most {MAX_COMMENT} characters)")

    @routes.get(
        "/{token}/approve",
        summary='Approve: SendTaskSuccess with {"Status": "Approved"} (the token is the credential)',
        response_class=Response,
    )
    async def approve(token: str, comment: str | None = comment_query) -> Response:
        output: dict[str, Any] = {"Status": APPROVED}
        if comment:
            output["Comment"] = comment
        return await click(token, taskwire.SUCCESS, output, comment)

    @routes.get(
        "/{token}/decline",
        summary="Decline: SendTaskFailure with error Rejected (the token is the credential)",
        response_class=Response,
    )
    async def decline(token: str, comment: str | None = comment_query) -> Response:
        cause = f"Declined by the reviewer: {comment}" if comment else "Declined by the reviewer."
        return await click(token, taskwire.FAILURE, {"error": REJECTED, "cause": cause}, comment)

    return routes


__all__ = [
    "APPROVED",
    "PUBLIC_URL_ENV",
    "REJECTED",
    "ApprovalLinks",
    "approval_links",
    "public_url",
    "router",
]
