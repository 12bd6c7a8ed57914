"""`automaps schema`: the map format's JSON Schema (maps/map.schema.json), for editors."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from automaps.actions import ACTION_TYPES, camel
from automaps.maps.loader import load_map
from automaps_local.cli import main
from automaps_local.schema import map_schema
from tests.maps.conftest import FIXTURES, ROOT

SCHEMA_FILE = ROOT / "maps/map.schema.json"
EXAMPLES = sorted((ROOT / "maps").glob("*.yaml"))
MAPS = EXAMPLES + sorted((ROOT / "tests/e2e/maps").glob("*.yaml")) + sorted(FIXTURES.glob("*.yaml"))
LINE = "# yaml-language-server: $schema=./map.schema.json"


class EditorLoader(yaml.SafeLoader):
    """YAML as an editor's language server reads it (YAML 1.2): dates and date-times stay text."""


EditorLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(validator: jsonschema.Draft7Validator, text: str) -> list[str]:
    return [error.message for error in validator.iter_errors(yaml.load(text, Loader=EditorLoader))]


def test_given_the_committed_schema_then_it_is_what_automaps_schema_writes_now(tmp_path):
    """GIVEN maps/map.schema.json WHEN checked THEN it is current; a stale copy is found (exit 1)."""
    stale = tmp_path / "map.schema.json"
    stale.write_text(SCHEMA_FILE.read_text().replace("welcome", "hello"))

    assert main(["schema", "-o", str(SCHEMA_FILE), "--check"]) == 0
    assert main(["schema", "-o", str(stale), "--check"]) == 1
    assert main(["schema", "-o", str(stale)]) == 0 and stale.read_text() == SCHEMA_FILE.read_text()


@pytest.mark.parametrize("path", MAPS, ids=lambda p: p.stem)
def test_given_an_example_map_then_it_validates_against_the_schema(validator, path):
    """GIVEN any example map, read as an editor reads YAML THEN the schema accepts it (short forms
    such as `- end`, `opened_email: welcome-email` and `to: [+1...]` included)."""
    assert _errors(validator, path.read_text()) == []


@pytest.mark.parametrize(
    ("mistake", "text"),
    [
        ("a misspelt setting", "send_email: {templat: welcome}"),
        ("an unknown step type", "send_mail: {template: welcome}"),
        ("a step id with capitals", "{id: Welcome, send_email: {template: welcome}}"),
        ("a wrong value", "add_to_automation: {map: other, return: sometimes}"),
        ("two step types in one", "{send_email: {template: welcome}, wait: {days: 1}}"),
    ],
)
def test_given_a_mistake_in_a_step_then_the_schema_rejects_it(validator, mistake, text):
    """GIVEN a map with one mistake in a step WHEN validated THEN the schema marks it (as the editor does)."""
    document = f"id: m\nname: M\ntriggers: [{{form_submitted: {{form: newsletter}}}}]\nsteps:\n  - {text}\n"

    assert _errors(validator, document), mistake


def test_given_the_schema_then_every_action_type_is_a_described_step_with_settings_and_examples():
    """GIVEN the schema THEN each action type is a step of the step union, described, whose
    settings carry descriptions and at least one example."""
    schema = map_schema()
    union = {ref["$ref"].split("/")[-1] for ref in schema["properties"]["steps"]["items"]["anyOf"][0]["oneOf"]}
    defs = schema["definitions"]

    for name in ACTION_TYPES:
        step = defs[f"{camel(name)}Step"]
        settings = defs[step["properties"][name]["$ref"].split("/")[-1]]
        assert f"{camel(name)}Step" in union and step["description"].startswith("An action step: ")
        assert settings["examples"], name
        assert all(field.get("description") for field in settings["properties"].values()), name


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_given_an_example_map_then_its_first_line_names_the_schema_and_does_not_change_its_version(path, tmp_path):
    """GIVEN maps/*.yaml THEN each starts with the yaml-language-server line, and the map without
    it has the same content hash (a comment is not a new version)."""
    text = path.read_text()
    bare = tmp_path / path.name
    bare.write_text(text.split("\n", 1)[1])

    assert text.splitlines()[0] == LINE
    assert load_map(bare).content_hash() == load_map(path).content_hash()
