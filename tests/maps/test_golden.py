"""The example maps compile to exactly the definitions in tests/maps/golden/.

A change in the compiler shows up here as a diff to review. When the change is intended,
regenerate the files and commit them with it:

    AUTOMAPS_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/maps/test_golden.py
"""

from __future__ import annotations

import os

import pytest

from automaps.maps.compiler import compile_map, to_json
from automaps.maps.loader import load_map
from tests.maps.conftest import FIXTURES, GOLDEN, ROOT

MAPS = sorted((ROOT / "maps").glob("*.yaml")) + sorted(FIXTURES.glob("*.yaml"))
REGENERATE = os.environ.get("AUTOMAPS_REGENERATE_GOLDEN") == "1"


@pytest.mark.parametrize("path", MAPS, ids=lambda p: p.stem)
def test_given_an_example_map_when_compiled_then_it_matches_its_golden_file(path):
    map_ = load_map(path)
    golden = GOLDEN / f"{map_.id}.asl.json"
    compiled = to_json(compile_map(map_))

    if REGENERATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(compiled)
    assert golden.is_file(), f"{golden} is missing; regenerate with AUTOMAPS_REGENERATE_GOLDEN=1"
    assert compiled == golden.read_text(), f"{path.name} compiles differently from {golden.name}"


def test_given_the_golden_directory_then_every_file_belongs_to_an_example_map():
    expected = {f"{load_map(path).id}.asl.json" for path in MAPS}

    assert {path.name for path in GOLDEN.glob("*.asl.json")} == expected
