"""Helpers for the map specifications: write a map file, compile, lint."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"

HEADER = """\
id: test-map
name: Test map
triggers:
  - form_submitted: {form: newsletter}
"""


@pytest.fixture
def write_map(tmp_path: Path) -> Callable[..., Path]:
    """GIVEN a map file: ``write_map(steps_yaml)`` writes the common header plus ``steps:``;
    ``write_map(text, full=True)`` writes ``text`` as it is."""

    def write(text: str, *, full: bool = False, name: str = "test-map.yaml") -> Path:
        body = textwrap.dedent(text)
        content = body if full else HEADER + "steps:\n" + textwrap.indent(body, "  ")
        path = tmp_path / "maps" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(content)
        return path

    return write


def with_fake_arns(asl: dict[str, Any]) -> dict[str, Any]:
    """The definition as deployed: each ``${XxxFunctionArn}`` replaced by a function ARN."""
    text = re.sub(r"\$\{(\w+)FunctionArn\}",
                  lambda found: f"arn:aws:lambda:us-east-1:123456789012:function:{found.group(1)}", json.dumps(asl))
    return json.loads(text)


def all_states(states: dict[str, Any]) -> dict[str, Any]:
    """Every state, including those inside Parallel branches."""
    found = dict(states)
    for state in states.values():
        for branch in state.get("Branches", ()):
            found |= all_states(branch["States"])
    return found
