"""`automaps compile` writes one definition per map; `--check` says which are out of date."""

from __future__ import annotations

import json
import shutil

import pytest

from automaps.maps.compiler import compile_map, to_json
from automaps.maps.loader import load_map
from automaps_local.cli import main
from tests.maps.conftest import ROOT


@pytest.fixture
def project(tmp_path):
    """GIVEN a project with the example maps and no compiled definitions yet."""
    shutil.copytree(ROOT / "maps", tmp_path / "maps")
    return tmp_path


def compile_(project, *extra: str) -> int:
    return main(["compile", "--maps", str(project / "maps"), "--out", str(project / "statemachines"), *extra])


def test_given_maps_when_compiled_then_each_gets_its_definition_as_indented_json_with_a_newline(project, capsys):
    assert compile_(project) == 0

    for path in (project / "maps").glob("*.yaml"):
        map_ = load_map(path)
        written = (project / "statemachines" / f"{map_.id}.asl.json").read_text()
        assert written == json.dumps(compile_map(map_), indent=2) + "\n" == to_json(compile_map(map_))
    assert f"{len(list((project / 'maps').glob('*.yaml')))} map(s) compiled" in capsys.readouterr().out


def test_given_fresh_definitions_when_checked_then_it_passes_and_writes_nothing(project, capsys):
    compile_(project)
    before = {p.name: p.stat().st_mtime_ns for p in (project / "statemachines").iterdir()}

    assert compile_(project, "--check") == 0
    assert {p.name: p.stat().st_mtime_ns for p in (project / "statemachines").iterdir()} == before
    assert "up to date" in capsys.readouterr().out


def test_given_a_map_edited_after_compiling_when_checked_then_its_definition_is_reported_stale(project, capsys):
    compile_(project)
    path = project / "maps" / "welcome-leads.yaml"
    path.write_text(path.read_text().replace("template: nudge", "template: nudge-v2"))
    capsys.readouterr()

    assert compile_(project, "--check") == 1
    assert capsys.readouterr().err.splitlines() == [
        f"stale: {project / 'statemachines' / 'welcome-leads.asl.json'} (the map changed; run `automaps compile`)"]


def test_given_missing_and_leftover_definitions_when_checked_then_both_are_listed(project, capsys):
    compile_(project)
    (project / "statemachines" / "webinar-reminder.asl.json").unlink()
    (project / "statemachines" / "deleted-map.asl.json").write_text("{}\n")
    capsys.readouterr()

    assert compile_(project, "--check") == 1
    err = capsys.readouterr().err
    assert "missing: " in err and "webinar-reminder.asl.json" in err
    assert "extra: " in err and "deleted-map.asl.json (no map has this id" in err


def test_given_a_leftover_definition_when_compiled_then_it_is_removed(project):
    (project / "statemachines").mkdir()
    (project / "statemachines" / "deleted-map.asl.json").write_text("{}\n")

    assert compile_(project) == 0
    assert not (project / "statemachines" / "deleted-map.asl.json").exists()
    assert compile_(project, "--check") == 0


def test_given_a_broken_map_when_compiled_then_the_error_is_printed_and_the_exit_code_is_2(project, capsys):
    (project / "maps" / "broken.yaml").write_text("id: broken\nname: B\ntriggers: [{form_submitted: {form: f}}]\n"
                                                  "steps: [{go_to: nowhere}]\n")

    assert compile_(project) == 2
    assert "broken.yaml: steps[0]: go_to 'nowhere': no step has this id" in capsys.readouterr().err
    assert not (project / "statemachines").exists()


def test_given_the_repository_then_its_committed_definitions_are_up_to_date():
    assert main(["compile", "--maps", str(ROOT / "maps"), "--out", str(ROOT / "statemachines"), "--check"]) == 0
