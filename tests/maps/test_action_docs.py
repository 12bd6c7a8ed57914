"""docs/map-format.md documents every action type's settings, generated from the Settings models
(`automaps schema --docs`); stale docs fail here."""

from __future__ import annotations

import re

import pytest
import yaml

from automaps.actions import ACTION_TYPES, settings_model
from automaps.maps.model import Map
from automaps_local.cli import main
from automaps_local.schema import BEGIN, END, action_docs
from tests.maps.conftest import ROOT

DOCS = ROOT / "docs/map-format.md"


def _section(docs: str, name: str) -> str:
    start = docs.index(f"##### `{name}`")
    following = docs.find("\n##### ", start + 1)
    return docs[start : following if following > 0 else len(docs)]


def test_given_the_docs_then_their_generated_region_is_current(tmp_path):
    """GIVEN docs/map-format.md WHEN checked THEN its generated region is what the Settings models
    say now; a copy with an edited region is stale (exit 1) until regenerated."""
    stale = tmp_path / "map-format.md"
    stale.write_text(DOCS.read_text().replace("tags to take off", "tags to drop"))

    assert main(["schema", "--docs", "-o", str(DOCS), "--check"]) == 0
    assert main(["schema", "--docs", "-o", str(stale), "--check"]) == 1
    assert main(["schema", "--docs", "-o", str(stale)]) == 0 and stale.read_text() == DOCS.read_text()


def test_given_docs_without_the_region_then_the_command_says_where_it_goes(tmp_path, capsys):
    """GIVEN a Markdown file without the markers WHEN automaps schema --docs runs THEN exit 2, naming them."""
    plain = tmp_path / "plain.md"
    plain.write_text("# Maps\n")

    assert main(["schema", "--docs", "-o", str(plain)]) == 2
    assert BEGIN in capsys.readouterr().err


@pytest.mark.parametrize("name", ACTION_TYPES)
def test_given_an_action_type_then_the_docs_list_each_setting_and_an_example_that_validates(name):
    """GIVEN an action type THEN its section in the docs has a row per setting (by the name users
    write) and an example, which is a valid step of a map."""
    section = _section(action_docs(), name)
    fields = [info.alias or field for field, info in settings_model(name).model_fields.items()]
    examples = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)

    assert DOCS.read_text().count(f"##### `{name}`") == 1
    assert all(f"| `{field}` |" in section for field in fields)
    assert examples
    for example in examples:
        steps = yaml.safe_load(example)
        Map.model_validate({"id": "docs", "name": "Docs", "triggers": [{"tag_added": "x"}], "steps": steps})


def test_given_the_docs_then_the_generated_region_lies_inside_action_steps():
    """GIVEN docs/map-format.md THEN the region opens and closes once, under "Action steps"."""
    docs = DOCS.read_text()

    assert docs.count(BEGIN) == 1 and docs.count(END) == 1
    assert docs.index("### Action steps") < docs.index(BEGIN) < docs.index(END) < docs.index("### When to run")
