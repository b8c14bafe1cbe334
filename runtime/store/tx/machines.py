"""State machines, their immutable revisions, published versions and aliases.

Every definition an execution may still need is kept as a *revision* row: an update adds a
revision and moves the machine's pointer, a version pins one, an execution records the one
it started on. So DescribeStateMachineForExecution and a long-running execution always see
the definition they began with, whatever happened to the machine since.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from runtime.store import tables as t
from runtime.store.arns import check_alias_name, check_name, parse_state_machine_arn
from runtime.store.errors import (
    ConflictError,
    ExecutionDoesNotExist,
    InvalidArn,
    ResourceNotFound,
    StateMachineAlreadyExists,
    StateMachineDeleting,
    StateMachineDoesNotExist,
    ValidationError,
)
from runtime.store.pagination import decode_token, encode_token, page_size
from runtime.store.records import (
    ExecutionStatus,
    Page,
    RoutingEntry,
    StateMachine,
    StateMachineAlias,
    StateMachineStatus,
    StateMachineSummary,
    StateMachineType,
    StateMachineVersion,
)
from runtime.store.tx._base import AnyRow, JsonText, json_text, now
from runtime.store.tx.tags import TagsMixin

sm = t.state_machines
rev = t.state_machine_revisions
ver = t.state_machine_versions
ali = t.state_machine_aliases

_MACHINE_COLUMNS = (
    sm.c.id,
    sm.c.arn,
    sm.c.name,
    sm.c.type,
    sm.c.status,
    sm.c.creation_date,
    rev.c.revision_id,
    rev.c.definition,
    rev.c.role_arn,
    rev.c.logging_configuration,
    rev.c.tracing_configuration,
    rev.c.description,
)


def _machine(
    row: AnyRow, *, arn: str | None = None, version: int | None = None, description: str | None = None
) -> StateMachine:
    return StateMachine(
        arn=arn or row.arn,
        name=row.name,
        type=StateMachineType(row.type),
        status=StateMachineStatus(row.status),
        definition=row.definition,
        role_arn=row.role_arn,
        logging_configuration=row.logging_configuration,
        tracing_configuration=row.tracing_configuration,
        description=description if version is not None else row.description,
        revision_id=row.revision_id,
        creation_date=row.creation_date,
        version=version,
    )


def _version(row: AnyRow, machine_arn: str) -> StateMachineVersion:
    return StateMachineVersion(
        arn=row.arn,
        state_machine_arn=machine_arn,
        version=row.version,
        revision_id=row.revision_id,
        description=row.description,
        creation_date=row.creation_date,
    )


def _alias(row: AnyRow, machine_arn: str) -> StateMachineAlias:
    routing = tuple(
        RoutingEntry(entry["stateMachineVersionArn"], int(entry["weight"]))
        for entry in orjson.loads(row.routing)
    )
    return StateMachineAlias(
        arn=row.arn,
        name=row.name,
        state_machine_arn=machine_arn,
        description=row.description,
        routing=routing,
        creation_date=row.creation_date,
        update_date=row.update_date,
    )


def pick_route(routing: Sequence[RoutingEntry], roll: float) -> str:
    """The version an alias routes to for ``roll`` in [0, 100)."""
    edge = 0
    for entry in routing:
        edge += entry.weight
        if roll < edge:
            return entry.version_arn
    return routing[-1].version_arn


class MachinesMixin(TagsMixin):
    """CreateStateMachine, Update/Describe/List/Delete, versions and aliases."""

    # --- lookups ---------------------------------------------------------------------------

    async def _machine_row(self, arn: str, *, lock: bool = False) -> AnyRow:
        """The machine behind an unqualified ARN (id, arn, name, status, revision_id...)."""
        ref = parse_state_machine_arn(arn)
        if ref.qualifier is not None:
            raise InvalidArn(f"Expected an unqualified state machine ARN, got {arn}")
        stmt = sa.select(sm).where(sm.c.arn == ref.base_arn)
        if lock:
            stmt = stmt.with_for_update()
        row = await self._first(stmt)
        if row is None:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return row

    async def _version_row(self, arn: str) -> AnyRow:
        row = await self._first(sa.select(ver).where(ver.c.arn == arn))
        if row is None:
            raise ResourceNotFound(f"Resource not found: '{arn}'")
        return row

    async def _alias_row(self, arn: str) -> AnyRow:
        row = await self._first(sa.select(ali).where(ali.c.arn == arn))
        if row is None:
            raise ResourceNotFound(f"Resource not found: '{arn}'")
        return row

    async def _revision_row(self, revision_id: str) -> AnyRow:
        stmt = (
            sa.select(*_MACHINE_COLUMNS)
            .select_from(rev.join(sm, sm.c.id == rev.c.state_machine_id))
            .where(rev.c.revision_id == revision_id)
        )
        row = await self._first(stmt)
        if row is None:
            raise StateMachineDoesNotExist(f"Revision {revision_id} does not exist")
        return row

    # --- state machines --------------------------------------------------------------------

    async def create_state_machine(
        self,
        name: str,
        definition: str,
        role_arn: str,
        *,
        type: StateMachineType = StateMachineType.STANDARD,
        logging_configuration: JsonText = None,
        tracing_configuration: JsonText = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> StateMachine:
        """Create a machine; the same name and configuration again returns it (AWS idempotency)."""
        check_name(name, "state machine name")
        arn = self.arns.state_machine(name)
        machine_type = StateMachineType(type)
        logging_text, tracing_text = json_text(logging_configuration), json_text(tracing_configuration)
        revision_id = str(uuid.uuid4())
        created = now()
        inserted = await self._first(
            self._insert(sm)
            .values(
                arn=arn,
                name=name,
                type=machine_type.value,
                status=StateMachineStatus.ACTIVE.value,
                revision_id=revision_id,
                last_version=0,
                creation_date=created,
            )
            .on_conflict_do_nothing()
            .returning(sm.c.id)
        )
        if inserted is None:
            existing = await self.describe_state_machine(arn)
            if existing.status is StateMachineStatus.DELETING:
                raise StateMachineDeleting(f"State machine {arn} is being deleted")
            same = (
                existing.type,
                existing.definition,
                existing.role_arn,
                existing.logging_configuration,
                existing.tracing_configuration,
            ) == (machine_type, definition, role_arn, logging_text, tracing_text)
            if not same:
                raise StateMachineAlreadyExists(f"State Machine Already Exists: '{arn}'")
            return existing
        await self._conn.execute(
            sa.insert(rev).values(
                state_machine_id=inserted.id,
                revision_id=revision_id,
                definition=definition,
                role_arn=role_arn,
                logging_configuration=logging_text,
                tracing_configuration=tracing_text,
                description=description,
                creation_date=created,
            )
        )
        if tags:
            await self.tag_resource(arn, tags)
        return await self.describe_state_machine(arn)

    async def update_state_machine(
        self,
        arn: str,
        *,
        definition: str | None = None,
        role_arn: str | None = None,
        logging_configuration: JsonText = None,
        tracing_configuration: JsonText = None,
    ) -> StateMachine:
        """Change what is given; a real change makes a new revision (new ``revision_id``)."""
        machine = await self._machine_row(arn, lock=True)
        if machine.status == StateMachineStatus.DELETING:
            raise StateMachineDeleting(f"State machine {arn} is being deleted")
        current = await self._revision_row(machine.revision_id)
        values = {
            "definition": current.definition if definition is None else definition,
            "role_arn": current.role_arn if role_arn is None else role_arn,
            "logging_configuration": current.logging_configuration
            if logging_configuration is None
            else json_text(logging_configuration),
            "tracing_configuration": current.tracing_configuration
            if tracing_configuration is None
            else json_text(tracing_configuration),
        }
        if all(getattr(current, key) == value for key, value in values.items()):
            return _machine(current)
        revision_id = str(uuid.uuid4())
        await self._conn.execute(
            sa.insert(rev).values(
                state_machine_id=machine.id,
                revision_id=revision_id,
                description=current.description,
                creation_date=now(),
                **values,
            )
        )
        await self._conn.execute(sa.update(sm).where(sm.c.id == machine.id).values(revision_id=revision_id))
        return await self.describe_state_machine(arn)

    async def describe_state_machine(self, arn: str) -> StateMachine:
        """The machine at its current revision, or a version (ARN ending in ``:<n>``)."""
        ref = parse_state_machine_arn(arn)
        if ref.alias is not None:
            raise InvalidArn(f"Use describe_alias for alias ARNs: {arn}")
        machine = await self._machine_row(ref.base_arn)
        if ref.version is None:
            return _machine(await self._revision_row(machine.revision_id))
        version = await self._first(
            sa.select(ver).where(ver.c.state_machine_id == machine.id, ver.c.version == ref.version)
        )
        if version is None:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return _machine(
            await self._revision_row(version.revision_id),
            arn=version.arn,
            version=version.version,
            description=version.description,
        )

    async def list_state_machines(
        self, *, max_results: int | None = None, next_token: str | None = None
    ) -> Page[StateMachineSummary]:
        """Active machines in creation order."""
        limit = page_size(max_results)
        query = ("list_state_machines",)
        after = decode_token(query, next_token)
        stmt = sa.select(sm.c.id, sm.c.arn, sm.c.name, sm.c.type, sm.c.creation_date).where(
            sm.c.status == StateMachineStatus.ACTIVE.value
        )
        if after is not None:
            stmt = stmt.where(sm.c.id > int(after))
        rows = (await self._conn.execute(stmt.order_by(sm.c.id).limit(limit + 1))).all()
        items = [
            StateMachineSummary(r.arn, r.name, StateMachineType(r.type), r.creation_date)
            for r in rows[:limit]
        ]
        token = encode_token(query, rows[limit - 1].id) if len(rows) > limit else None
        return Page(items, token)

    async def delete_state_machine(self, arn: str) -> None:
        """Delete now, or mark DELETING while executions still run (see purge); idempotent."""
        ref = parse_state_machine_arn(arn)
        if ref.qualifier is not None:
            raise ValidationError("Use delete_version / delete_alias for qualified ARNs")
        try:
            machine = await self._machine_row(arn, lock=True)
        except StateMachineDoesNotExist:
            return
        running = await self._first(
            sa.select(t.executions.c.id)
            .where(
                t.executions.c.state_machine_id == machine.id,
                t.executions.c.status == ExecutionStatus.RUNNING.value,
            )
            .limit(1)
        )
        await self._conn.execute(sa.delete(t.tags).where(t.tags.c.resource_arn == machine.arn))
        if running is None:
            await self._conn.execute(sa.delete(sm).where(sm.c.id == machine.id))
        else:
            await self._conn.execute(
                sa.update(sm).where(sm.c.id == machine.id).values(status=StateMachineStatus.DELETING.value)
            )

    async def purge_deleting_state_machines(self) -> int:
        """Remove DELETING machines none of whose executions still run; returns how many."""
        running = sa.select(t.executions.c.id).where(
            t.executions.c.state_machine_id == sm.c.id, t.executions.c.status == ExecutionStatus.RUNNING.value
        )
        result = await self._conn.execute(
            sa.delete(sm).where(sm.c.status == StateMachineStatus.DELETING.value, ~sa.exists(running))
        )
        return int(result.rowcount)

    async def describe_state_machine_for_execution(self, execution_arn: str) -> StateMachine:
        """The definition an execution runs: the revision it was started on."""
        row = await self._first(
            sa.select(t.executions.c.revision_id, t.executions.c.state_machine_version_arn).where(
                t.executions.c.arn == execution_arn
            )
        )
        if row is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'")
        machine = await self._revision_row(row.revision_id)
        return _machine(machine)

    # --- versions --------------------------------------------------------------------------

    async def publish_version(
        self,
        state_machine_arn: str,
        *,
        description: str | None = None,
        expected_revision_id: str | None = None,
    ) -> StateMachineVersion:
        """Snapshot the current revision as version n+1; the same revision again returns its version."""
        machine = await self._machine_row(state_machine_arn, lock=True)
        if machine.status == StateMachineStatus.DELETING:
            raise StateMachineDeleting(f"State machine {state_machine_arn} is being deleted")
        if expected_revision_id is not None and expected_revision_id != machine.revision_id:
            raise ConflictError(
                f"revisionId {expected_revision_id} is not the current revision {machine.revision_id}"
            )
        existing = await self._first(
            sa.select(ver).where(
                ver.c.state_machine_id == machine.id, ver.c.revision_id == machine.revision_id
            )
        )
        if existing is not None:
            if description is not None and description != existing.description:
                raise ConflictError(f"Version {existing.arn} exists with a different description")
            return _version(existing, machine.arn)
        number = machine.last_version + 1
        await self._conn.execute(sa.update(sm).where(sm.c.id == machine.id).values(last_version=number))
        arn = self.arns.version(machine.name, number)
        await self._conn.execute(
            sa.insert(ver).values(
                state_machine_id=machine.id,
                version=number,
                arn=arn,
                revision_id=machine.revision_id,
                description=description,
                creation_date=now(),
            )
        )
        return _version(await self._version_row(arn), machine.arn)

    async def list_versions(
        self, state_machine_arn: str, *, max_results: int | None = None, next_token: str | None = None
    ) -> Page[StateMachineVersion]:
        """Newest version first, as AWS lists them."""
        machine = await self._machine_row(state_machine_arn)
        limit = page_size(max_results)
        query = ("list_versions", machine.arn)
        after = decode_token(query, next_token)
        stmt = sa.select(ver).where(ver.c.state_machine_id == machine.id)
        if after is not None:
            stmt = stmt.where(ver.c.version < int(after))
        rows = (await self._conn.execute(stmt.order_by(ver.c.version.desc()).limit(limit + 1))).all()
        token = encode_token(query, rows[limit - 1].version) if len(rows) > limit else None
        return Page([_version(r, machine.arn) for r in rows[:limit]], token)

    async def delete_version(self, version_arn: str) -> None:
        """Delete a version (idempotent); refused while an alias routes to it."""
        ref = parse_state_machine_arn(version_arn)
        if ref.version is None:
            raise InvalidArn(f"Not a version ARN: {version_arn}")
        row = await self._first(sa.select(ver).where(ver.c.arn == version_arn))
        if row is None:
            return
        aliases = (
            await self._conn.execute(
                sa.select(ali.c.arn, ali.c.routing).where(ali.c.state_machine_id == row.state_machine_id)
            )
        ).all()
        for alias in aliases:
            if any(e["stateMachineVersionArn"] == version_arn for e in orjson.loads(alias.routing)):
                raise ConflictError(f"Version {version_arn} is referenced by alias {alias.arn}")
        await self._conn.execute(sa.delete(ver).where(ver.c.id == row.id))

    # --- aliases ---------------------------------------------------------------------------

    async def _check_routing(self, routing: Sequence[RoutingEntry | tuple[str, int]]) -> tuple[AnyRow, str]:
        """Validate a routing configuration; returns the machine row and the JSON to store."""
        entries = [RoutingEntry(str(arn), int(weight)) for arn, weight in routing]
        if not 1 <= len(entries) <= 2:
            raise ValidationError("routingConfiguration must have 1 or 2 entries")
        if len({e.version_arn for e in entries}) != len(entries):
            raise ValidationError("routingConfiguration lists a version twice")
        if any(not 0 <= e.weight <= 100 for e in entries) or sum(e.weight for e in entries) != 100:
            raise ValidationError("routingConfiguration weights must be 0-100 and add up to 100")
        bases = {parse_state_machine_arn(e.version_arn).base_arn for e in entries}
        if len(bases) != 1:
            raise ValidationError("routingConfiguration versions must belong to one state machine")
        machine = await self._machine_row(bases.pop())
        for entry in entries:
            if parse_state_machine_arn(entry.version_arn).version is None:
                raise ValidationError(f"Not a version ARN: {entry.version_arn}")
            await self._version_row(entry.version_arn)
        text = orjson.dumps([{"stateMachineVersionArn": e.version_arn, "weight": e.weight} for e in entries])
        return machine, text.decode()

    async def create_alias(
        self, name: str, routing: Sequence[RoutingEntry | tuple[str, int]], *, description: str | None = None
    ) -> StateMachineAlias:
        """Create an alias on the machine its versions belong to; same config again returns it."""
        check_alias_name(name)
        machine, routing_text = await self._check_routing(routing)
        arn = self.arns.alias(machine.name, name)
        created = now()
        inserted = await self._first(
            self._insert(ali)
            .values(
                state_machine_id=machine.id,
                name=name,
                arn=arn,
                description=description,
                routing=routing_text,
                creation_date=created,
                update_date=created,
            )
            .on_conflict_do_nothing()
            .returning(ali.c.id)
        )
        existing = await self._alias_row(arn)
        if inserted is None and (existing.routing, existing.description) != (routing_text, description):
            raise ConflictError(f"Alias {arn} exists with a different configuration")
        return _alias(existing, machine.arn)

    async def update_alias(
        self,
        alias_arn: str,
        *,
        routing: Sequence[RoutingEntry | tuple[str, int]] | None = None,
        description: str | None = None,
    ) -> StateMachineAlias:
        row = await self._alias_row(alias_arn)
        values: dict[str, Any] = {"update_date": now()}
        if routing is not None:
            machine, values["routing"] = await self._check_routing(routing)
            if machine.id != row.state_machine_id:
                raise ValidationError("An alias can only route to versions of its own state machine")
        if description is not None:
            values["description"] = description
        await self._conn.execute(sa.update(ali).where(ali.c.id == row.id).values(**values))
        return await self.describe_alias(alias_arn)

    async def describe_alias(self, alias_arn: str) -> StateMachineAlias:
        row = await self._alias_row(alias_arn)
        return _alias(row, parse_state_machine_arn(alias_arn).base_arn)

    async def list_aliases(
        self, state_machine_arn: str, *, max_results: int | None = None, next_token: str | None = None
    ) -> Page[StateMachineAlias]:
        machine = await self._machine_row(state_machine_arn)
        limit = page_size(max_results)
        query = ("list_aliases", machine.arn)
        after = decode_token(query, next_token)
        stmt = sa.select(ali).where(ali.c.state_machine_id == machine.id)
        if after is not None:
            stmt = stmt.where(ali.c.id > int(after))
        rows = (await self._conn.execute(stmt.order_by(ali.c.id).limit(limit + 1))).all()
        token = encode_token(query, rows[limit - 1].id) if len(rows) > limit else None
        return Page([_alias(r, machine.arn) for r in rows[:limit]], token)

    async def delete_alias(self, alias_arn: str) -> None:
        row = await self._alias_row(alias_arn)
        await self._conn.execute(sa.delete(ali).where(ali.c.id == row.id))

    # --- what an execution starts on -------------------------------------------------------

    async def _resolve_start(
        self, arn: str, roll: float | None
    ) -> tuple[AnyRow, str, str | None, str | None]:
        """(machine row, revision id, version ARN, alias ARN) for StartExecution on ``arn``."""
        ref = parse_state_machine_arn(arn)
        machine = await self._machine_row(ref.base_arn)
        if machine.status == StateMachineStatus.DELETING:
            raise StateMachineDeleting(f"State machine {ref.base_arn} is being deleted")
        if ref.qualifier is None:
            return machine, machine.revision_id, None, None
        alias_arn = None
        version_arn = arn
        if ref.alias is not None:
            alias = await self._first(sa.select(ali).where(ali.c.arn == arn))
            if alias is None:
                raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
            routing = _alias(alias, machine.arn).routing
            alias_arn = arn
            version_arn = pick_route(routing, random.uniform(0, 100) if roll is None else roll)
        version = await self._first(sa.select(ver).where(ver.c.arn == version_arn))
        if version is None:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{version_arn}'")
        return machine, version.revision_id, version_arn, alias_arn
