"""docs/deploy.md stays true: every `automaps` command it shows parses with that command's own
arguments, and every `aws` command names an operation of that service with options it has."""

from __future__ import annotations

import argparse
import importlib
import re
import shlex

import botocore.session
import pytest

from automaps_local.cli import COMMANDS
from tests.conftest import ROOT

DOC = ROOT / "docs" / "deploy.md"


def shell_commands() -> list[list[str]]:
    """The commands of the doc's bash blocks, continuation lines joined, redirections dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" # ")[0].strip()
            if not line or line.startswith("#"):
                continue
            if "=$(" in line:  # VARIABLE=$(aws ...): the command inside
                line = line.split("=$(", 1)[1].rsplit(")", 1)[0]
            words = shlex.split(line, comments=True)
            words = words[: next((i for i, w in enumerate(words) if w in ("<", ">", "|")), len(words))]
            commands.append(words)
    return commands


def automaps_commands() -> list[list[str]]:
    return [words[1:] for words in shell_commands() if words[0] in (".venv/bin/automaps", "automaps")]


def aws_commands() -> list[list[str]]:
    return [words[1:] for words in shell_commands() if words[0] == "aws"]


def test_the_doc_shows_the_commands_it_is_about():
    named = {argv[0] for argv in automaps_commands()}
    assert {"doctor", "push", "secret", "admin"} <= named
    assert {"sesv2", "pinpoint-sms-voice-v2", "bedrock", "secretsmanager"} <= {argv[0] for argv in aws_commands()}


@pytest.mark.parametrize("argv", automaps_commands(), ids=" ".join)
def test_every_automaps_command_in_the_doc_parses(argv):
    assert argv[0] in COMMANDS, f"docs/deploy.md names `automaps {argv[0]}`, which cli.py does not have"
    parser = argparse.ArgumentParser(prog="automaps", exit_on_error=False)
    sub = parser.add_subparsers(dest="command", required=True)
    importlib.import_module(COMMANDS[argv[0]][0]).add_arguments(sub.add_parser(argv[0], exit_on_error=False))
    parser.parse_args(argv)


def _pascal(option: str) -> str:
    return "".join(part.capitalize() for part in option.removeprefix("--").split("-"))


GLOBAL_OPTIONS = {"--region", "--query", "--output", "--profile", "--no-cli-pager"}
CLI_RENAMED = {"--notification-endpoint": "--endpoint"}  # the AWS CLI's names where the API's clash with its own


@pytest.mark.parametrize("argv", aws_commands(), ids=" ".join)
def test_every_aws_command_in_the_doc_names_a_real_operation_and_options(argv):
    session = botocore.session.get_session()
    service, operation, *rest = argv
    model = session.get_service_model(service)
    by_cli_name = {re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower(): name for name in model.operation_names}
    assert operation in by_cli_name, f"aws {service} has no {operation}"
    members = {name.lower() for name in (model.operation_model(by_cli_name[operation]).input_shape or
                                         model.operation_model(by_cli_name[operation])).members}
    for option in (w for w in rest if w.startswith("--") and w not in GLOBAL_OPTIONS):
        name = _pascal(CLI_RENAMED.get(option, option)).lower()
        boolean = name.removeprefix("no")
        assert name in members or boolean in members, f"aws {service} {operation}: no option {option}"
