"""add_to_lead_router: a lead gets an owner from a router (round robin, weighted, first
available), fairly even when many leads arrive at once, and the owner hears about it."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from automaps.store import routing
from automaps.store.content import ContentStore
from functions.add_to_lead_router import app
from tests.actions.conftest import event_for, kinds
from tests.conftest import ROOT
from tests.outbox import sent_emails

ANA, BO, CY, DI = "ana@example.com", "bo@example.com", "cy@example.com", "di@example.com"


def a_router(name: str = "sales", strategy: str = "round_robin", reps: list[dict] | None = None) -> None:
    """GIVEN a lead router is pushed to the content store."""
    reps = reps or [{"email": ANA, "name": "Ana"}, {"email": BO, "name": "Bo"}, {"email": CY, "name": "Cy"}]
    ContentStore().put("ROUTER", name, routing.validate({"strategy": strategy, "reps": reps}).model_dump(mode="json"))


def leads(store, count: int) -> list:
    return [store.upsert_by_email(f"lead{n}@example.org", {"first_name": f"Lead{n}"})[0] for n in range(count)]


def route(contact, lambda_context, n: int = 0, **settings) -> dict:
    event = event_for("add_to_lead_router", contact, settings={"router": "sales", **settings},
                      execution_id=f"arn:aws:states:us-east-1:123456789012:execution:m:e{n}-{contact.id}")
    return app.lambda_handler(event, lambda_context)


def owners(store, contacts) -> list[str]:
    return [store.require(c.id).fields.get("owner") for c in contacts]


# ------------------------------------------------------------------ routing


def test_given_a_round_robin_router_when_leads_arrive_then_reps_take_turns_and_are_emailed(
        aws, clock, store, contact, lambda_context):
    a_router()
    contacts = [contact, *leads(store, 3)]

    results = [route(c, lambda_context) for c in contacts]

    assert [r["outcome"] for r in results] == ["done"] * 4
    assert owners(store, contacts) == [ANA, BO, CY, ANA]
    [routed] = store.history(contact.id, ["lead.routed"])
    assert routed.detail == {"router": "sales", "strategy": "round_robin", "owner": "a***@example.com",
                             "rep": "Ana", "turn": 1}
    first = sent_emails()[0]
    assert first.recipients == [ANA]
    assert first.subject == "New lead for you: Jane"
    assert "Email: jane@example.com" in first.text and f"Contact id: {contact.id}" in first.text
    assert first.header("List-Unsubscribe") is None and "unsubscribe" not in first.text.lower()
    assert results[0]["detail"]["notified"] is True


@pytest.mark.parametrize("strategy, reps, expected", [
    ("round_robin", [{"email": e, "name": e[:2]} for e in (ANA, BO, CY, DI)], {ANA: 5, BO: 5, CY: 5, DI: 5}),
    ("weighted", [{"email": ANA, "name": "Ana", "weight": 2}, {"email": BO, "name": "Bo", "weight": 1},
                  {"email": CY, "name": "Cy", "weight": 1}], {ANA: 10, BO: 5, CY: 5}),
])
def test_given_twenty_leads_at_once_when_routed_concurrently_then_every_turn_is_used_once_and_the_split_is_fair(
        aws, clock, store, lambda_context, strategy, reps, expected):
    a_router(strategy=strategy, reps=reps)
    contacts = leads(store, 20)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda c: route(c, lambda_context), contacts))

    assert [r["outcome"] for r in results] == ["done"] * 20
    assert Counter(owners(store, contacts)) == expected
    assert sorted(r["detail"]["turn"] for r in results) == list(range(1, 21))
    assert routing.next_turn("sales") == 21


def test_given_unavailable_and_full_reps_when_routed_then_the_lead_goes_to_the_next_rep_with_room(
        aws, clock, store, lambda_context):
    a_router(strategy="first_available", reps=[
        {"email": ANA, "name": "Ana", "available": False},
        {"email": BO, "name": "Bo", "max_open_leads": 2},
        {"email": CY, "name": "Cy"}])
    contacts = leads(store, 4)

    for contact in contacts:
        route(contact, lambda_context)

    assert owners(store, contacts) == [BO, BO, CY, CY]
    assert routing.open_leads("sales", BO) == 2


def test_given_every_rep_full_or_away_when_routed_then_the_step_fails_and_no_owner_is_set(
        aws, clock, store, contact, lambda_context):
    a_router(reps=[{"email": ANA, "name": "Ana", "available": False},
                   {"email": BO, "name": "Bo", "max_open_leads": 1}])
    route(leads(store, 1)[0], lambda_context)

    result = route(contact, lambda_context)

    assert (result["outcome"], result["reason"]) == ("failed", "no sales rep of router 'sales' is available")
    assert "owner" not in store.require(contact.id).fields


# ------------------------------------------------------------------ skipping and failing


def test_given_a_contact_with_an_owner_when_routed_then_it_is_skipped_unless_reassign_is_set(
        aws, clock, store, contact, lambda_context):
    a_router()
    store.update_fields(contact.id, {"owner": DI})

    skipped = route(contact, lambda_context)
    reassigned = route(contact, lambda_context, n=1, reassign=True)

    assert (skipped["outcome"], skipped["reason"]) == ("skipped", "the contact already has an owner")
    assert reassigned["outcome"] == "done"
    assert store.require(contact.id).fields["owner"] == ANA
    assert store.history(contact.id, ["lead.routed"])[0].detail["previous_owner"] == "d***@example.com"


def test_given_an_unknown_router_when_routed_then_the_step_fails_naming_the_file_to_add(
        aws, clock, contact, lambda_context):
    result = route(contact, lambda_context, router="nobody")

    assert result["outcome"] == "failed" and "content/routers/nobody.yaml" in result["reason"]


def test_given_a_message_with_a_missing_field_when_routed_then_it_is_skipped_before_a_turn_is_taken(
        aws, clock, store, contact, lambda_context):
    a_router()

    result = route(contact, lambda_context, message="Call {{ contact.company }}")

    assert (result["outcome"], result["reason"]) == ("skipped", "missing field: contact.company")
    assert routing.next_turn("sales") == 1 and sent_emails() == []


def test_given_the_notification_cannot_be_sent_when_routed_then_the_lead_stays_routed_and_the_step_says_so(
        aws, clock, store, contact, lambda_context, monkeypatch):
    a_router()
    monkeypatch.setenv("EMAIL_FROM", "unverified@nowhere.example")   # SES refuses this sender

    result = route(contact, lambda_context)

    assert result["outcome"] == "done"
    assert result["detail"]["notified"] is False and "SES" in result["detail"]["notify_error"]
    assert store.require(contact.id).fields["owner"] == ANA


def test_given_the_same_task_event_twice_when_run_then_the_lead_is_routed_and_the_owner_emailed_once(
        aws, clock, store, contact, lambda_context):
    a_router()

    first = route(contact, lambda_context)
    second = route(contact, lambda_context)

    assert first == second
    assert kinds(store, contact).count("lead.routed") == 1 and len(sent_emails()) == 1
    assert routing.next_turn("sales") == 2


# ------------------------------------------------------------------ router files


@pytest.mark.parametrize("body, message", [
    ({"strategy": "random", "reps": [{"email": ANA, "name": "Ana"}]}, "Input should be"),
    ({"reps": []}, "at least 1 item"),
    ({"reps": [{"email": ANA, "name": "A"}, {"email": "ANA@example.com", "name": "B"}]}, "listed more than once"),
    ({"strategy": "weighted", "reps": [{"email": ANA, "name": "A", "weight": 0}]}, "weight above 0"),
    ({"reps": [{"email": "not an address", "name": "A"}]}, "not an email address"),
    ({"reps": [{"email": ANA, "name": "A", "max_open_leads": 0}]}, "greater than or equal to 1"),
])
def test_given_a_bad_router_file_when_validated_then_it_is_rejected_saying_what_to_change(body, message):
    with pytest.raises(ValidationError, match=message):
        routing.validate(body)


def test_given_the_shipped_router_when_pushed_then_it_validates():
    from automaps_local.push import load_named

    body = yaml.safe_load(Path(ROOT / "content/routers/sales.yaml").read_text())

    assert load_named(ROOT)["ROUTER"]["sales"] == routing.validate(body).model_dump(mode="json")


def test_given_bad_settings_when_validated_then_they_are_rejected():
    from automaps.actions.add_to_lead_router import Settings

    with pytest.raises(ValidationError, match="router"):
        Settings.model_validate({})
    with pytest.raises(ValidationError, match="Extra inputs"):
        Settings.model_validate({"router": "sales", "strategy": "weighted"})
