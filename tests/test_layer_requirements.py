"""The layer's requirements (layers/automaps/requirements.txt) declare every third-party package
the layer imports and pin every dependency exactly, so `sam build` builds the same layer each time;
pyproject.toml's ranges admit those pins, so the tests run against what ships."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

LAYER = ROOT / "layers/automaps/automaps"
REQUIREMENTS = ROOT / "layers/automaps/requirements.txt"


def _requirements() -> list[Requirement]:
    lines = [line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


def _imported_distributions() -> dict[str, set[str]]:
    """Distribution name -> the layer files that import it (top-level imports outside the stdlib)."""
    owners = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for path in LAYER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "automaps":
                    continue
                for dist in owners.get(top, [top]):
                    found.setdefault(canonicalize_name(dist), set()).add(str(path.relative_to(ROOT)))
    return found


def test_given_the_layer_code_then_every_third_party_import_is_declared_in_its_requirements():
    declared = {canonicalize_name(r.name) for r in _requirements()}

    missing = {dist: sorted(files) for dist, files in _imported_distributions().items() if dist not in declared}

    assert missing == {}, f"imported by the layer but not in {REQUIREMENTS.name}: {missing}"


def test_given_the_layer_requirements_then_every_one_is_pinned_exactly():
    loose = [str(r) for r in _requirements()
             if len(r.specifier) != 1 or next(iter(r.specifier)).operator != "=="]

    assert loose == []


def test_given_the_layer_requirements_then_they_are_the_versions_the_tests_run_against():
    installed = {r.name: importlib.metadata.version(r.name) for r in _requirements()}

    differ = {r.name: (str(r.specifier), installed[r.name]) for r in _requirements()
              if not r.specifier.contains(installed[r.name])}

    assert differ == {}, "pinned vs installed in .venv; re-pin from `.venv/bin/pip freeze`"


def test_given_pyproject_then_its_dependencies_admit_the_layer_pins():
    pins = {canonicalize_name(r.name): next(iter(r.specifier)).version for r in _requirements()}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]

    refused = [dep for dep in map(Requirement, project)
               if canonicalize_name(dep.name) in pins and not dep.specifier.contains(pins[canonicalize_name(dep.name)])]
    undeclared = [dep.name for dep in map(Requirement, project) if canonicalize_name(dep.name) not in pins]

    assert refused == [] and undeclared == []
