"""`automaps secret set <connection> --stack-name S`: a connection's secret stored where the
stack's functions may read it (<stack>/connections/<name>), read from stdin or a file, never argv,
never printed; against the rehearsal stack."""

from __future__ import annotations

import io
import json

import boto3
import pytest

from automaps_local.cli import main
from tests.conftest import ROOT

KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"


def set_secret(monkeypatch, capsys, stdin: str, *extra: str) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["secret", "set", "stripe", "--stack-name", "automaps", "--root", str(ROOT), *extra])
    return code, capsys.readouterr().out


def test_given_a_key_on_stdin_when_secret_set_runs_then_the_stripe_connection_reads_it(rehearsal, monkeypatch, capsys):
    from automaps import secrets
    from automaps.providers.payments import StripeConnection

    # WHEN the Stripe key is piped into `automaps secret set stripe --stack-name automaps`
    code, out = set_secret(monkeypatch, capsys, KEY + "\n")

    # THEN it is stored under automaps/connections/stripe, without the newline, and never printed
    assert code == 0 and KEY not in out
    arn = out.split()[2]
    assert out.startswith(f"created automaps/connections/stripe: {arn}")
    assert boto3.client("secretsmanager").get_secret_value(SecretId="automaps/connections/stripe")[
        "SecretString"] == KEY
    # AND the ARN it prints is what a stripe connection accepts, and what the adapter reads
    StripeConnection(type="stripe", secret_arn=arn)
    assert secrets.get(arn, "api_key") == KEY
    assert f"content/connections/stripe.yaml as secret_arn: {arn}" in out


def test_given_a_stored_secret_when_set_again_then_a_new_version_replaces_it_under_the_same_arn(
        rehearsal, monkeypatch, capsys):
    # GIVEN the key stored once
    _, first = set_secret(monkeypatch, capsys, "sk_test_old")

    # WHEN a JSON object with the member is set
    code, out = set_secret(monkeypatch, capsys, json.dumps({"api_key": KEY}), "--json")

    # THEN the secret was updated, same ARN, holding the object
    assert code == 0 and out.startswith("updated automaps/connections/stripe: ")
    assert out.split()[2] == first.split()[2]
    stored = boto3.client("secretsmanager").get_secret_value(SecretId="automaps/connections/stripe")
    assert json.loads(stored["SecretString"]) == {"api_key": KEY}


def test_given_a_file_when_secret_set_reads_it_then_it_is_stored(rehearsal, monkeypatch, capsys, tmp_path):
    key_file = tmp_path / "stripe.key"
    key_file.write_text(KEY + "\r\n")
    code, out = set_secret(monkeypatch, capsys, "", "--file", str(key_file))
    assert code == 0
    assert boto3.client("secretsmanager").get_secret_value(SecretId="automaps/connections/stripe")[
        "SecretString"] == KEY


@pytest.mark.parametrize(("stdin", "extra", "error"), [
    ("", (), "error: the value is empty"),
    ("  \n", (), "error: the value is empty"),
    ("sk_x", ("--json",), "error: --json: the value is not JSON"),
    ('{"api_key": 1}', ("--json",), "error: --json: the value must be an object of non-empty strings"),
])
def test_given_an_unusable_value_when_secret_set_runs_then_it_stops_before_calling_aws(
        monkeypatch, capsys, stdin, extra, error):
    # (no moto here: a call to Secrets Manager would fail on the network guard, not answer 2)
    code, out = set_secret(monkeypatch, capsys, stdin, *extra)
    assert code == 2 and out.startswith(error)


def test_given_a_value_on_the_command_line_then_the_command_refuses_it(capsys):
    # a value in argv stays in the shell's history and the process list: there is no such argument
    with pytest.raises(SystemExit) as exited:
        main(["secret", "set", "stripe", KEY, "--stack-name", "automaps"])
    assert exited.value.code == 2


def test_given_a_connection_name_with_a_slash_then_it_is_refused(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(KEY))
    code = main(["secret", "set", "../signing", "--stack-name", "automaps"])
    assert code == 2 and "a connection name is letters, digits" in capsys.readouterr().out
