"""`automaps stats --stack-name` against the rehearsal stack (our template in moto's
CloudFormation): the counters the router keeps are read from the stack's contacts table, the
map's steps from its registry."""

from __future__ import annotations

import json

import pytest

from automaps_local.cli import main
from tests.rehearsal.helpers import count_on_stack



pytestmark = pytest.mark.usefixtures("stack_environment_restored")


def test_given_the_rehearsal_stack_with_welcome_leads_counted_when_stats_runs_then_it_reads_the_stack_s_counters(
        rehearsal, capsys, monkeypatch):
    # GIVEN welcome-leads registered on the stack, and the router's count of one stream batch there:
    # two contacts entered, both sent the welcome email, one opened it, both wait two days
    written = [("ann", "map.enrolled", None, {}), ("bob", "map.enrolled", None, {}),
               ("ann", "email.sent", "welcome-email", {"message_id": "m-a"}),
               ("bob", "email.sent", "welcome-email", {"message_id": "m-b"}),
               ("ann", "wait.entered", "two-days-later", {}), ("bob", "wait.entered", "two-days-later", {}),
               ("ann", "email.opened", "welcome-email", {"message_id": "m-a"})]
    count_on_stack(rehearsal, monkeypatch, written)
    capsys.readouterr()   # (the router's metrics, EMF on stdout)

    # WHEN stats runs with the stack's name
    code = main(["stats", "welcome-leads", "--stack-name", rehearsal.name, "--json"])
    body = json.loads(capsys.readouterr().out)

    # THEN it read the stack's counters, the steps in the registered map's reading order
    assert code == 0
    assert (body["entered"], body["active"], body["exited"]) == (2, 2, 0)
    assert list(body["steps"])[:3] == ["tag-lead", "welcome-email", "two-days-later"]
    assert body["steps"]["two-days-later"]["waiting"] == 2
    assert (body["steps"]["welcome-email"]["sent"], body["steps"]["welcome-email"]["opened"]) == (2, 1)
    assert body["steps"]["welcome-email"]["rates"]["opened"] == 0.5

    # AND without a map id, every registered map as a table
    assert main(["stats", "--stack-name", rehearsal.name]) == 0
    table = capsys.readouterr().out
    assert "welcome-leads: entered 2, active 2, exited 0" in table
    assert "1 (50%)" in table
    from automaps import aws as aws_clients

    aws_clients.reset()  # (the clients made for the stack)


def test_given_a_stack_that_does_not_exist_when_stats_runs_then_it_says_so_in_one_line(rehearsal, capsys):
    code = main(["stats", "--stack-name", "no-such-stack"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error:") and "no-such-stack" in err and "Traceback" not in err
