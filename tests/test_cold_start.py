"""Cold start: SnapStart on every function, what a restored environment re-initialises, and
what a handler's init phase (its imports) must not do.

The cold-import times themselves are measured by the bench (`python -m bench --only imports`),
never here."""

from __future__ import annotations

import ast
import json
import os
import random
import subprocess
import sys

import pytest

from automaps import aws, snapstart
from automaps.actions import ACTION_TYPES
from automaps_local.template import Template
from tests.conftest import ROOT

TEMPLATE = Template.load(ROOT / "template.yaml")
FUNCTIONS = sorted(TEMPLATE.of_type("AWS::Serverless::Function"))
HANDLERS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))


# ------------------------------------------------------------------ the template


def test_given_the_template_then_every_function_publishes_a_live_alias_with_snapstart():
    for logical in FUNCTIONS:
        props = TEMPLATE.function_properties(logical)

        assert props.get("AutoPublishAlias") == "live", logical
        assert props.get("SnapStart") == {"ApplyOn": "PublishedVersions"}, logical


def test_given_every_function_then_it_is_on_a_runtime_and_settings_snapstart_supports():
    # SnapStart: Python 3.12 and later; not with provisioned concurrency, EFS or more than 512 MB of /tmp
    for logical in FUNCTIONS:
        props = TEMPLATE.function_properties(logical)
        major, minor = (int(part) for part in props["Runtime"].removeprefix("python").split("."))

        assert (major, minor) >= (3, 12), logical
        assert "ProvisionedConcurrencyConfig" not in props, logical
        assert "FileSystemConfigs" not in props, logical
        assert props.get("EphemeralStorage", {}).get("Size", 512) <= 512, logical


# ------------------------------------------------------------------ the restore hook


@pytest.fixture(autouse=True)
def _no_client_outlives_the_test():
    yield
    aws.reset()


def test_given_the_layer_imported_then_its_restore_hook_is_registered_with_the_runtimes_hook_library():
    hooks = pytest.importorskip(snapstart.RUNTIME_HOOKS)  # the runtime ships it; a dev dependency here

    assert snapstart.registered is True
    assert (snapstart.after_restore, (), {}) in hooks.get_after_restore()


def test_given_two_environments_restored_from_one_snapshot_then_without_the_hook_they_draw_the_same_numbers():
    snapshot = random.getstate()

    first = [_restored(snapshot, hook=False) for _ in range(2)]

    assert first[0] == first[1]


def test_given_two_environments_restored_from_one_snapshot_when_the_hook_runs_then_each_draws_its_own_numbers():
    snapshot = random.getstate()

    drawn = [_restored(snapshot, hook=True) for _ in range(2)]

    assert drawn[0] != drawn[1]


def test_given_a_client_made_before_the_snapshot_when_the_hook_runs_then_the_next_call_gets_a_new_client():
    before = aws.client("sqs")

    snapstart.after_restore()

    assert aws.client("sqs") is not before


def test_given_the_idempotency_store_made_before_the_snapshot_when_the_hook_runs_then_the_store_is_made_again(
    monkeypatch: pytest.MonkeyPatch,
):
    from automaps.journeys import steps

    monkeypatch.setenv("IDEMPOTENCY_TABLE", "idempotency")
    before = steps._persistence_layer()

    snapstart.after_restore()

    assert steps._persistence_layer() is not before


def test_given_a_module_primed_then_the_runtime_imports_it_before_the_snapshot():
    hooks = pytest.importorskip(snapstart.RUNTIME_HOOKS)

    assert snapstart.prime("automaps.journeys.goals") is True

    assert (snapstart.import_all, ("automaps.journeys.goals",), {}) in hooks.get_before_snapshot()


def _restored(snapshot: object, hook: bool) -> list[float]:
    random.setstate(snapshot)  # type: ignore[arg-type]  # what every environment resumes with
    if hook:
        snapstart.after_restore()
    return [random.random() for _ in range(4)]


# ------------------------------------------------------------------ the init phase of every handler

_INIT_PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(f"functions.{name}.app")
from automaps import aws, secrets, snapstart
from automaps.providers import http
hooks = sys.modules.get(snapstart.RUNTIME_HOOKS)
primed = sorted({m for h in (hooks.get_before_snapshot() if hooks else []) if h[0] is snapstart.import_all for m in h[1]})
snapstart.import_all(*primed)  # what the runtime does before the snapshot: each one imports
print(json.dumps({
    "primed": primed,
    "clients": sorted(aws._clients),
    "secrets_provider": secrets._provider is not None,
    "http_pool": http._pool is not None,
    "yaml": "yaml" in sys.modules,
    "registered": hooks is not None and any(h[0] is snapstart.after_restore for h in hooks.get_after_restore()),
}))
"""


@pytest.fixture(scope="module")
def after_every_handlers_init() -> dict:
    """GIVEN every handler imported, one after another, in a fresh interpreter: the init phase
    that SnapStart snapshots."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "automaps"), str(ROOT)]),
           "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "automaps"}
    done = subprocess.run([sys.executable, "-c", _INIT_PROBE, *HANDLERS], check=False, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_given_every_handlers_init_and_what_they_prime_then_no_aws_client_secret_or_http_connection_is_in_the_snapshot(
    after_every_handlers_init: dict,
):
    assert after_every_handlers_init["clients"] == []
    assert after_every_handlers_init["secrets_provider"] is False
    assert after_every_handlers_init["http_pool"] is False


def test_given_every_handlers_init_and_what_they_prime_then_pyyaml_is_not_loaded(after_every_handlers_init: dict):
    assert after_every_handlers_init["yaml"] is False  # maps are YAML only for the local tooling


def test_given_the_layers_code_then_only_the_map_loader_imports_pyyaml_and_only_the_local_tooling_imports_the_loader():
    # (a lazy import inside a function would load PyYAML in an invocation, which the init probe cannot see)
    importers: dict[str, set[str]] = {}
    for path in (ROOT / "layers" / "automaps" / "automaps").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if isinstance(node, ast.ImportFrom) and node.module == "automaps.maps":
                names += [f"automaps.maps.{a.name}" for a in node.names]
            for name in names:
                importers.setdefault(name, set()).add(path.relative_to(ROOT / "layers" / "automaps").as_posix())

    assert importers.get("yaml", set()) == {"automaps/maps/loader.py"}
    # automaps validate's content checks read the loader's findings; they are the local tooling's, like
    # the loader, so nothing in the layer imports them in turn
    assert importers.get("automaps.maps.loader", set()) <= {"automaps/maps/validate.py"}
    assert importers.get("automaps.maps.validate", set()) == set()


def test_given_every_handlers_init_then_the_restore_hook_is_registered(after_every_handlers_init: dict):
    pytest.importorskip(snapstart.RUNTIME_HOOKS)

    assert after_every_handlers_init["registered"] is True


def test_given_every_handlers_init_then_what_handlers_import_lazily_is_primed_for_the_snapshot(
    after_every_handlers_init: dict,
):
    pytest.importorskip(snapstart.RUNTIME_HOOKS)

    every_action = {f"automaps.actions.{name}" for name in ACTION_TYPES}  # run_action imports one at the first event

    assert every_action | {"automaps.journeys.goals", "automaps.journeys.enrollment"} <= set(
        after_every_handlers_init["primed"]
    )
