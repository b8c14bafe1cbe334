"""ARNs and names, exactly as AWS Step Functions spells them.

Tools written for AWS (boto3, Terraform, the CLI) parse these ARNs, so the scheme is AWS's:
``arn:aws:states:{region}:{account}:{kind}:{name}[:{qualifier}]``. Region and account come from
configuration; they only make the ARNs look like AWS's, nothing checks them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.store.errors import InvalidArn, InvalidName

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"

# AWS: 1-80 characters; no whitespace, brackets, wildcards, these specials or control chars.
_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
_ALIAS_NAME = re.compile(r"^(?=.*[A-Za-z_.\-])[A-Za-z0-9_.\-]{1,80}$")


def check_name(name: str, what: str = "name") -> str:
    """Return ``name`` if AWS would accept it for a machine, activity or execution."""
    if not 1 <= len(name) <= 80:
        raise InvalidName(f"Invalid {what} {name!r}: must be 1 to 80 characters")
    if _FORBIDDEN.search(name):
        raise InvalidName(f"Invalid {what} {name!r}: contains a forbidden character")
    return name


def check_alias_name(name: str) -> str:
    """Alias names are stricter: ``[A-Za-z0-9_.-]``, at least one non-digit (else a version)."""
    if not _ALIAS_NAME.match(name):
        raise InvalidName(f"Invalid alias name {name!r}")
    return name


@dataclass(frozen=True, slots=True)
class StateMachineRef:
    """A parsed state machine ARN: ``qualifier`` is a version number, an alias name or None."""

    base_arn: str
    name: str
    qualifier: str | None

    @property
    def version(self) -> int | None:
        return int(self.qualifier) if self.qualifier is not None and self.qualifier.isdigit() else None

    @property
    def alias(self) -> str | None:
        return self.qualifier if self.qualifier is not None and not self.qualifier.isdigit() else None


@dataclass(frozen=True, slots=True)
class Arns:
    """Builds the ARNs of one region and account."""

    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT

    @property
    def prefix(self) -> str:
        return f"arn:aws:states:{self.region}:{self.account}"

    def state_machine(self, name: str) -> str:
        return f"{self.prefix}:stateMachine:{name}"

    def version(self, machine: str, number: int) -> str:
        return f"{self.prefix}:stateMachine:{machine}:{number}"

    def alias(self, machine: str, alias: str) -> str:
        return f"{self.prefix}:stateMachine:{machine}:{alias}"

    def execution(self, machine: str, name: str) -> str:
        return f"{self.prefix}:execution:{machine}:{name}"

    def activity(self, name: str) -> str:
        return f"{self.prefix}:activity:{name}"

    def map_run(self, machine: str, label: str, run_id: str) -> str:
        return f"{self.prefix}:mapRun:{machine}/{label}:{run_id}"

    def map_run_execution(self, map_run_arn: str, name: str) -> str:
        """A child execution of a distributed Map run: ``execution:{machine}/{label}:{name}``."""
        parts = map_run_arn.split(":")
        if len(parts) != 8 or parts[5] != "mapRun":
            raise InvalidArn(f"Invalid map run ARN: {map_run_arn}")
        return f"{':'.join(parts[:5])}:execution:{parts[6]}:{name}"


def parse_state_machine_arn(arn: str) -> StateMachineRef:
    """Split a state machine ARN into its unqualified ARN, name and qualifier."""
    parts = arn.split(":")
    if len(parts) not in (7, 8) or parts[:3] != ["arn", "aws", "states"] or parts[5] != "stateMachine":
        raise InvalidArn(f"Invalid state machine ARN: {arn}")
    name = parts[6]
    if not name:
        raise InvalidArn(f"Invalid state machine ARN: {arn}")
    qualifier = parts[7] if len(parts) == 8 else None
    if qualifier == "":
        raise InvalidArn(f"Invalid state machine ARN: {arn}")
    return StateMachineRef(":".join(parts[:7]), name, qualifier)


def machine_name_of_execution(arn: str) -> str:
    """The machine name inside an execution ARN (used only for error messages and checks)."""
    parts = arn.split(":")
    if len(parts) != 8 or parts[5] != "execution":
        raise InvalidArn(f"Invalid execution ARN: {arn}")
    return parts[6]
