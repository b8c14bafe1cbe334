"""Activities and task tokens: how outside workers take and answer Task work.

SendTask* go through the engine's ``answer_task``, the same path a service's own reply
takes, so an answer by API and an answer over AMQP cannot both complete a task.
"""

from __future__ import annotations

import orjson

from runtime import taskwire
from runtime.api.errors import ApiError
from runtime.api.machines import check_arn
from runtime.api.service import ApiContext, Handler, Params, Result, drop_none, parse_json, tags_to_dict
from runtime.store.records import ExecutionStatus, TaskTokenStatus


async def create_activity(ctx: ApiContext, p: Params) -> Result:
    async with ctx.store.transaction() as tx:
        activity = await tx.create_activity(p["name"], tags=tags_to_dict(p.get("tags")))
    return {"activityArn": activity.arn, "creationDate": activity.creation_date}


async def describe_activity(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["activityArn"], "activity")
    async with ctx.store.transaction(readonly=True) as tx:
        activity = await tx.describe_activity(arn)
    return {"activityArn": activity.arn, "name": activity.name, "creationDate": activity.creation_date}


async def list_activities(ctx: ApiContext, p: Params) -> Result:
    async with ctx.store.transaction(readonly=True) as tx:
        page = await tx.list_activities(max_results=p.get("maxResults"), next_token=p.get("nextToken"))
    items = [{"activityArn": a.arn, "name": a.name, "creationDate": a.creation_date} for a in page.items]
    return drop_none({"activities": items, "nextToken": page.next_token})


async def delete_activity(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["activityArn"], "activity")
    async with ctx.store.transaction() as tx:
        await tx.delete_activity(arn)
    return {}


async def get_activity_task(ctx: ApiContext, p: Params) -> Result:
    """Long poll (``activity_poll_seconds``, 60 as on AWS): a task, or no token when none came."""
    arn = check_arn(p["activityArn"], "activity")
    async with ctx.store.transaction(readonly=True) as tx:
        await tx.describe_activity(arn)
    claim = ctx.engine_feature("claim_activity_task", "GetActivityTask")
    task: tuple[str, str] | None = await claim(arn, p.get("workerName"), ctx.api.activity_poll_seconds)
    if task is None:
        return {}
    token, input_text = task
    return {"taskToken": token, "input": input_text}


async def answer(ctx: ApiContext, token: str, kind: str, body: bytes) -> None:
    """Hand an answer to the engine; TaskTimedOut when the task no longer waits for one.

    A task of an execution that has ended (stopped, timed out) waits for nothing, whatever
    its token row still says: AWS answers TaskTimedOut there too.
    """
    async with ctx.store.transaction(readonly=True) as tx:
        task = await tx.get_task_token(token)
        waiting = task.status is TaskTokenStatus.PENDING
        if waiting:
            waiting = (await tx.get_execution(task.execution_arn)).status is ExecutionStatus.RUNNING
    if not waiting or not await ctx.engine.answer_task(token, kind, body, callback=True):
        raise ApiError("TaskTimedOut", "Task Timed Out: the task is no longer waiting for an answer")


async def send_task_success(ctx: ApiContext, p: Params) -> Result:
    parse_json(p["output"], "SendTaskSuccess", "output")
    await answer(ctx, p["taskToken"], taskwire.SUCCESS, p["output"].encode())
    return {}


async def send_task_failure(ctx: ApiContext, p: Params) -> Result:
    body = orjson.dumps({"error": p.get("error") or "", "cause": p.get("cause") or ""})
    await answer(ctx, p["taskToken"], taskwire.FAILURE, body)
    return {}


async def send_task_heartbeat(ctx: ApiContext, p: Params) -> Result:
    await answer(ctx, p["taskToken"], taskwire.HEARTBEAT, b"{}")
    return {}


ACTIONS: dict[str, Handler] = {
    "CreateActivity": create_activity,
    "DescribeActivity": describe_activity,
    "ListActivities": list_activities,
    "DeleteActivity": delete_activity,
    "GetActivityTask": get_activity_task,
    "SendTaskSuccess": send_task_success,
    "SendTaskFailure": send_task_failure,
    "SendTaskHeartbeat": send_task_heartbeat,
}
