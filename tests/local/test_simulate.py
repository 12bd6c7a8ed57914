"""`automaps simulate`: contacts through a map as written, with events at virtual times, on the
project's own template.yaml and content (the local runtime on moto)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from automaps_local.cli import main
from automaps_local.simulate import population

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "simulate"
WELCOME = ROOT / "maps" / "welcome-leads.yaml"
JANE = FIXTURES / "jane.json"


def simulate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command; its output with the table columns' padding reduced to two spaces."""
    code = main(["simulate", *args, "--template", str(ROOT / "template.yaml"), "--no-progress"])
    captured = capsys.readouterr()
    return code, re.sub(r"(?<=\S)  +(?=\S)", "  ", captured.out), captured.err


# ---------------------------------------------------------------------- one contact, both branches
def test_given_an_open_of_the_welcome_email_when_simulated_then_the_contact_takes_the_engaged_branch(capsys):
    """Given Jane (a JSON file) and the event "after 1 day: opened welcome-email",
    when welcome-leads is simulated,
    then the open is on her history a day after entry, the condition answers yes and she gets
    the thank-you SMS, not the nudge; the outbox names the welcome email's template; exit 0."""
    code, out, _ = simulate(
        capsys, str(WELCOME), "--contact", str(JANE), "--event", "after 1 day: opened welcome-email"
    )

    assert code == 0, out
    assert "POST /forms/newsletter -> 202" in out
    assert "2026-11-24T09:00:00Z  welcome-email  email.opened" in out
    assert "path: tag-lead -> welcome-email -> engaged: yes -> thank-you-sms" in out
    assert "ended: exited: completed" in out
    assert "2026-11-23T09:00:00Z  email  jane@example.com  welcome  Welcome aboard, Jane!" in out
    assert "Thanks for reading, Jane!" in out and "did you see this?" not in out


def test_given_no_event_when_simulated_then_the_contact_takes_the_other_branch(capsys):
    """Given Jane inline (over 45) and no event,
    when welcome-leads is simulated,
    then the condition answers no and four hours later she gets the nudge email (template nudge)."""
    contact = json.dumps({"email": "jane@example.com", "first_name": "Jane", "age": 52})

    code, out, _ = simulate(capsys, str(WELCOME), "--contact", contact)

    assert code == 0, out
    assert "path: tag-lead -> welcome-email -> engaged: no -> nudge-email" in out
    assert "email  jane@example.com  nudge  Jane, did you see this?" in out


def test_given_a_horizon_before_the_wait_ends_when_simulated_then_it_says_where_the_contact_waits(capsys):
    """Given a horizon of one day (welcome-leads waits two days, to 09:00 in Jane's timezone),
    when simulated,
    then the contact is shown waiting at the wait until its end; still in the map is no failure: exit 0."""
    code, out, _ = simulate(capsys, str(WELCOME), "--contact", str(JANE), "--until-days", "1")

    assert code == 0, out
    assert "path: tag-lead -> welcome-email\n" in out
    assert "ended: waiting at two-days-later until 2026-11-25T14:00:00Z" in out
    assert "horizon reached at 2026-11-24T09:00:00Z with contacts still in the map" in out


def test_given_a_purchase_a_tag_and_a_custom_event_when_simulated_then_each_arrives_at_its_moment(capsys):
    """Given a map that looks, four days after entry, at a purchase of course-101 and the tag vip,
    when simulated with the purchase after 3 days (through /ingest/events), the tag after 2 days
    and a custom event after 1 day,
    then both branches are taken, and each event is on the history at its virtual time."""
    code, out, _ = simulate(
        capsys,
        str(FIXTURES / "events-map.yaml"),
        "--contact",
        str(JANE),
        "--event",
        "after 3 days: purchase.made course-101 price=49",
        "--event",
        "after 2 days: tag vip",
        "--event",
        "after 1 day: shop.cart_abandoned cart=c1 total=20",
    )

    assert code == 0, out
    assert "path: bought: yes -> tag-buyer -> vip: yes -> tag-vip-seen" in out
    assert "2026-11-26T09:00:00Z  purchase.made" in out
    assert "2026-11-25T09:00:00Z  tags.changed  added=['vip']" in out
    assert "2026-11-24T09:00:00Z  shop.cart_abandoned" in out


# ---------------------------------------------------------------------- the YAML, not a compiled file
def test_given_an_edit_not_compiled_when_simulated_then_the_edit_runs_not_the_stale_compiled_file(capsys, tmp_path):
    """Given welcome-leads with a new step, in a file that was never compiled (the committed
    statemachines/welcome-leads.asl.json knows nothing of it),
    when the edited file is simulated,
    then the new step runs."""
    edited = WELCOME.read_text().replace(
        "  - id: welcome-email\n", "  - id: tag-fresh\n    change_tags: {add: [fresh]}\n  - id: welcome-email\n"
    )
    (tmp_path / "welcome-leads.yaml").write_text(edited)
    assert "tag-fresh" not in (ROOT / "statemachines" / "welcome-leads.asl.json").read_text()

    code, out, _ = simulate(capsys, str(tmp_path / "welcome-leads.yaml"), "--contact", str(JANE))

    assert code == 0, out
    assert "path: tag-lead -> tag-fresh -> welcome-email -> engaged: no -> nudge-email" in out
    assert "tags: fresh, lead, newsletter" in out


def test_given_a_map_template_yaml_does_not_deploy_when_simulated_then_it_runs(capsys, tmp_path):
    """Given a new map, not in template.yaml's generated block and never compiled, entered by a tag,
    when simulated (the contact enrolled directly, by default, or --enter events: by its trigger,
    when the event adds the tag),
    then its step runs either way."""
    (tmp_path / "draft.yaml").write_text(
        "id: sim-draft\nname: Draft\ntriggers: [{tag_added: vip}]\n"
        "steps:\n  - id: hello\n    send_email: {template: welcome}\n"
    )

    code, out, _ = simulate(capsys, str(tmp_path / "draft.yaml"), "--contact", str(JANE))
    by_tag, by_tag_out, _ = simulate(
        capsys, str(tmp_path / "draft.yaml"), "--contact", str(JANE), "--enter", "events",
        "--event", "after 10 minutes: tag vip",
    )  # fmt: skip

    assert code == 0, out
    assert "enrolled directly: enrolled e_" in out
    assert "path: hello" in out
    assert "email  jane@example.com  welcome  Welcome aboard, Jane!" in out
    assert by_tag == 0, by_tag_out
    assert "2026-11-23T09:10:00Z  email  jane@example.com  welcome  Welcome aboard, Jane!" in by_tag_out


# ---------------------------------------------------------------------- failures
def test_given_a_step_that_fails_when_simulated_then_it_says_why_and_exits_1(capsys):
    """Given a map whose webhook step calls a loopback address (refused),
    when simulated,
    then the step is shown as failed with its reason, and the command exits 1."""
    code, out, _ = simulate(capsys, str(FIXTURES / "failing-webhook.yaml"), "--contact", str(JANE))

    assert code == 1, out
    assert "path: tell-crm FAILED -> thanks" in out
    assert "failed: step tell-crm failed: webhook not sent: refused: 127.0.0.1 is a loopback address" in out


def test_given_a_form_that_starts_nothing_when_simulated_then_it_says_the_contact_did_not_enter(capsys):
    """Given welcome-leads and a form that enrolls in nothing (webinar starts another map),
    when simulated with --form webinar,
    then the contact did not enter welcome-leads: exit 1."""
    code, out, _ = simulate(capsys, str(WELCOME), "--contact", str(JANE), "--form", "webinar")

    assert code == 1, out
    assert "ended: did not enter" in out


# ---------------------------------------------------------------------- many contacts
def test_given_many_contacts_when_simulated_then_it_counts_each_path_and_ending(capsys, tmp_path):
    """Given four leads (JSONL), two of whom engage with the welcome email (their own _events),
    one under 45,
    when welcome-leads is simulated for all of them (and drawn, --graph),
    then two took the engaged branch, one got the nudge, one skipped it; all four exited; the
    drawing carries the counts per step."""
    graph = tmp_path / "welcome.mmd"

    code, out, _ = simulate(capsys, str(WELCOME), "--contacts", str(FIXTURES / "leads.jsonl"), "--graph", str(graph))

    assert code == 0, out
    assert "welcome-leads: 4 contacts, 4 entered, 0 failed" in out
    assert "  2  tag-lead -> welcome-email -> engaged: yes -> thank-you-sms" in out
    assert "  1  tag-lead -> welcome-email -> engaged: no -> nudge-email\n" in out
    assert "  1  tag-lead -> welcome-email -> engaged: no -> nudge-email skipped" in out
    assert "  4  exited: completed" in out
    drawn = graph.read_text()
    assert "<b>tag-lead</b>" in drawn and "<i>done 4</i>" in drawn
    assert "<i>no 2 · yes 2</i>" in drawn and "<i>done 1 · skipped 1</i>" in drawn


def test_given_the_same_contacts_as_csv_when_read_then_they_are_the_jsonl_contacts():
    """Given leads.csv, the same four leads as leads.jsonl (events and tags in ;-separated cells),
    when both are read,
    then they are the same contacts with the same events (CSV cells are text, as a form posts them)."""
    from_csv = population.many(FIXTURES / "leads.csv")
    from_jsonl = population.many(FIXTURES / "leads.jsonl")

    assert [p.events for p in from_csv] == [p.events for p in from_jsonl]
    assert [p.tags for p in from_csv] == [p.tags for p in from_jsonl] == [[], ["cold", "newsletter"], [], []]
    assert [{k: str(v) for k, v in p.fields.items()} for p in from_jsonl] == [p.fields for p in from_csv]


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("event", "said"),
    [
        ("tomorrow: opened welcome-email", "write it as 'after <n> <minutes|hours|days|weeks>: <what>'"),
        ("after soon: opened welcome-email", "'soon' is not a delay"),
        ("after 2 fortnights: opened welcome-email", "unknown unit 'fortnights'"),
        ("after 1 day: opened welcome-mail", "'welcome-mail' is neither a send_email step nor a template"),
        ("after 1 day: danced", "'danced' is not something that can happen"),
        ("after 1 day: purchase.made course-101 price=cheap", "price"),
        ("after 1 day: tag", "write 'tag <tag> [<tag> ...]'"),
    ],
)
def test_given_a_bad_event_text_when_simulated_then_it_names_it_and_exits_2(capsys, event, said):
    """Given an event text that cannot be used, when simulated, then the error quotes the text and
    says what is wrong, before anything runs: exit 2."""
    code, out, err = simulate(capsys, str(WELCOME), "--contact", str(JANE), "--event", event)

    assert code == 2
    assert f"event {event!r}" in err and said in err
    assert "Traceback" not in err + out


def test_given_a_map_with_a_mistake_when_simulated_then_the_loader_lines_are_printed_and_it_exits_2(capsys, tmp_path):
    """Given a map file with a misspelt condition, when simulated, then the loader's line names the
    file and the step, and nothing runs: exit 2."""
    broken = tmp_path / "welcome-leads.yaml"
    broken.write_text(WELCOME.read_text().replace("opened_email:", "opened_emal:"))

    code, _, err = simulate(capsys, str(broken), "--contact", str(JANE))

    assert code == 2
    assert f"{broken}: step 'engaged'" in err and "opened_emal" in err


def test_given_a_map_naming_content_that_does_not_exist_when_simulated_then_each_is_named_and_it_exits_2(
    capsys, tmp_path
):
    """Given a map whose trigger names a form and whose email names a template content/ lacks,
    when simulated, then both are named with the map's file, as `automaps validate` names them,
    before anything runs: exit 2."""
    draft = tmp_path / "draft.yaml"
    draft.write_text(
        "id: sim-draft\nname: Draft\ntriggers: [{form_submitted: {form: no-such-form}}]\n"
        "steps:\n  - id: hello\n    send_email: {template: welcom}\n"
    )

    code, _, err = simulate(capsys, str(draft), "--contact", str(JANE))

    assert code == 2
    assert f"{draft}: triggers[0].form_submitted.form: no form 'no-such-form' in" in err
    assert f"{draft}: step 'hello' (steps[0].send_email.template): no email template 'welcom'" in err
    assert "did you mean 'welcome'?" in err


@pytest.mark.parametrize(
    ("contact", "said"),
    [
        ('{"first_name": "Jane"}', "--contact: the contact has no email"),
        ('{"email": ', "--contact: not JSON"),
        ("no-such-file.json", "no such file"),
    ],
)
def test_given_a_bad_contact_when_simulated_then_it_says_so_and_exits_2(capsys, contact, said):
    """Given a contact without an email, not JSON, or a missing file, when simulated, then exit 2 naming it."""
    code, _, err = simulate(capsys, str(WELCOME), "--contact", contact)

    assert code == 2 and said in err


def test_given_a_contacts_file_with_a_bad_line_when_simulated_then_the_line_is_named(capsys, tmp_path):
    """Given a JSONL file whose second line has no email, when simulated, then exit 2 naming file:line."""
    leads = tmp_path / "leads.jsonl"
    leads.write_text('{"email": "ann@example.com"}\n{"first_name": "Bob"}\n')

    code, _, err = simulate(capsys, str(WELCOME), "--contacts", str(leads))

    assert code == 2 and f"{leads}:2: the contact has no email" in err


# ---------------------------------------------------------------------- the outbox
def test_given_an_email_sent_by_a_step_when_the_outbox_is_read_then_it_names_the_template_it_used():
    """Given welcome-leads deployed from its YAML on the local runtime and a newsletter sign-up,
    when GET /_local/outbox is read after the welcome email went out,
    then the email carries the template it was rendered from, and the map and step that sent it."""
    from werkzeug.test import Client

    from automaps.maps.loader import load_map
    from automaps_local.clock import VirtualClock
    from automaps_local.http import LocalApi
    from automaps_local.runtime import LocalRuntime
    from automaps_local.serve import add_repository_to_path
    from automaps_local.simulate import deploy

    add_repository_to_path(ROOT)
    clock = VirtualClock(start=None, auto_advance=False)
    with LocalRuntime(ROOT / "template.yaml", clock=clock, missing_definitions="skip", schedule_events=False) as rt:
        deploy.deploy(rt, [load_map(WELCOME)])
        api = Client(LocalApi(rt))
        with clock.hold():
            api.post("/forms/newsletter", json={"email": "jane@example.com", "first_name": "Jane"})
        rt.run_until_settled(until=clock.now(), timeout=120)

        [email] = api.get("/_local/outbox").get_json()["emails"]

    assert email["to"] == ["jane@example.com"]
    assert (email["template"], email["map_id"], email["step_id"]) == ("welcome", "welcome-leads", "welcome-email")
    assert email["contact_id"].startswith("c_")


def test_given_a_contact_whose_own_event_is_wrong_when_simulated_then_the_contact_and_event_are_named(capsys, tmp_path):
    """Given a JSONL contact whose _events holds a text that is no delay, when simulated, then the
    error names the file and line and quotes the event: exit 2."""
    leads = tmp_path / "leads.jsonl"
    leads.write_text('{"email": "ann@example.com", "_events": ["after a while: tag vip"]}\n')

    code, _, err = simulate(capsys, str(WELCOME), "--contacts", str(leads))

    assert code == 2 and f"{leads}:1: event 'after a while: tag vip': 'a while' is not a delay" in err
