"""The validator against published definitions: every real one must pass, every bad one fail as listed.

``valid/`` holds definitions copied from public repositories (AWS samples, LocalStack's
AWS-recorded fixtures, ...; see ``SOURCES.md``), so a rule that refuses something AWS accepts
fails here. ``invalid/expected.json`` pins the exact ``[pointer, rule]`` errors of each bad file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from runtime.asl.validator import validate_text

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "definitions"
VALID = sorted((CORPUS / "valid").glob("*.json"))
INVALID = sorted(p for p in (CORPUS / "invalid").glob("*.json") if p.name != "expected.json")
EXPECTED: dict[str, list[list[str]]] = json.loads((CORPUS / "invalid" / "expected.json").read_text())


def test_corpus_is_large_and_sourced() -> None:
    assert len(VALID) >= 40
    sources = (CORPUS / "SOURCES.md").read_text()
    listed = set(re.findall(r"^\| `([^`]+\.json)` \|", sources, flags=re.MULTILINE))
    assert {p.name for p in VALID} <= listed
    assert listed <= {p.name for p in VALID + INVALID}  # no stale entries


def test_every_invalid_file_has_expectations() -> None:
    assert sorted(EXPECTED) == [p.name for p in INVALID]


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_published_definition_is_valid(path: Path) -> None:
    errors = [str(p) for p in validate_text(path.read_text(encoding="utf-8")) if p.severity == "error"]
    assert errors == []


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_definition_reports_exactly_its_errors(path: Path) -> None:
    problems = validate_text(path.read_text(encoding="utf-8"))
    found = sorted([p.pointer, p.rule] for p in problems if p.severity == "error")
    assert found == sorted(EXPECTED[path.name])
