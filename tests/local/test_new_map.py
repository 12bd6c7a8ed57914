"""A new map is one YAML file: `automaps compile` writes everything that deploys it (its
definition and its state machine in template.yaml's generated block), and `compile --check`,
`sam validate --lint`, `sam build` and the local runtime all take it with no other edit. A map
removed while it may still hold contacts is refused unless they are counted or it is forced."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.test import Client

from automaps_local.cli import main
from automaps_local.http import LocalApi
from automaps_local.runtime import LocalRuntime
from automaps_local.serve import push_content
from automaps_local.template import Template
from automaps_local.wiring import machines_by_map
from tests.conftest import ROOT, load_event

pytestmark = pytest.mark.slow

SPRING_PROMO = """\
id: spring-promo
name: Spring promotion
triggers:
  - form_submitted: {form: newsletter}
steps:
  - id: tag-spring
    change_tags: {add: [spring-2027]}
  - id: promo-email
    send_email: {template: welcome}
  - end
"""
SAM = Path(sys.executable).parent / "sam"
SAM_ENV = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PYENV_VERSION": "3.13.0"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """GIVEN a copy of the repository (what a user clones) with one new file, maps/spring-promo.yaml."""
    copy = tmp_path / "repo"
    for folder in ("maps", "statemachines", "functions", "layers", "content"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("template.yaml", "samconfig.toml"):
        shutil.copy(ROOT / name, copy / name)
    (copy / "maps" / "spring-promo.yaml").write_text(SPRING_PROMO)
    return copy


def automaps(repo: Path, *args: str) -> int:
    return main(["compile", "--maps", str(repo / "maps"), "--out", str(repo / "statemachines"), *args])


def test_given_a_new_map_file_when_compiled_then_check_validate_build_and_the_local_runtime_take_it(repo, tmp_path):
    # WHEN the user compiles (the only command besides adding the file)
    assert automaps(repo) == 0

    # THEN the definition and its state machine resource exist, and the check is clean
    assert (repo / "statemachines" / "spring-promo.asl.json").is_file()
    template = Template.load(repo / "template.yaml")
    assert machines_by_map(template)["spring-promo"] == "SpringPromoStateMachine"
    props = template.resources["SpringPromoStateMachine"]["Properties"]
    assert props["AutoPublishAlias"] == "live" and props["Name"] == {"Fn::Sub": "${AWS::StackName}-spring-promo"}
    assert {"ChangeTagsFunctionArn", "SendEmailFunctionArn"} <= set(props["DefinitionSubstitutions"])
    assert automaps(repo, "--check") == 0
    # AND SAM validates (with its linter) and builds it
    validated = subprocess.run([str(SAM), "validate", "--lint"], cwd=repo, capture_output=True, text=True, env=SAM_ENV)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    built = subprocess.run([str(SAM), "build", "--build-dir", str(tmp_path / "build"), "--cache-dir",
                            str(tmp_path / "cache")], cwd=repo, capture_output=True, text=True, env=SAM_ENV)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    built_template = Template.load(tmp_path / "build" / "template.yaml")
    assert "SpringPromoStateMachine" in built_template.of_type("AWS::Serverless::StateMachine")
    native = next((tmp_path / "build" / "AutomapsLayer" / "python" / "pydantic_core").glob("*.so"))
    assert "aarch64" in native.name  # the arm64 layer
    assert set(template.of_type("AWS::Serverless::Function")) <= {p.name for p in (tmp_path / "build").iterdir()}

    # AND the local runtime deploys it from the template and runs a sign-up through it
    with LocalRuntime(repo / "template.yaml", schedule_events=False,
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}) as runtime:
        push_content(runtime)
        body = json.loads(load_event("form_post_json.json")["body"])
        response = Client(LocalApi(runtime)).post("/forms/newsletter", data=json.dumps(body),
                                                  headers={"Content-Type": "application/json"})
        assert response.status_code == 202
        runtime.run_until_settled()
        [execution] = runtime.executions("spring-promo")
        assert execution["status"] == "SUCCEEDED"
        assert runtime.state_machine_arn("spring-promo").endswith("-spring-promo:live")  # started on the alias


def test_given_a_deployed_map_removed_from_maps_when_compiled_then_it_is_refused_unless_forced(repo, capsys):
    # GIVEN spring-promo compiled into the template (deployed with the next `sam deploy`)
    assert automaps(repo) == 0
    capsys.readouterr()
    # WHEN its file is deleted and the user compiles
    (repo / "maps" / "spring-promo.yaml").unlink()
    refused = automaps(repo)

    # THEN nothing changes: contacts inside would be stranded, and the message says how to go on
    assert refused == 3
    assert "'spring-promo'" in capsys.readouterr().err
    assert "spring-promo" in machines_by_map(Template.load(repo / "template.yaml"))
    assert (repo / "statemachines" / "spring-promo.asl.json").is_file()
    # WHEN forced, THEN the resource and the definition go; the check is clean again
    assert automaps(repo, "--force") == 0
    assert "spring-promo" not in machines_by_map(Template.load(repo / "template.yaml"))
    assert not (repo / "statemachines" / "spring-promo.asl.json").exists()
    assert automaps(repo, "--check") == 0
