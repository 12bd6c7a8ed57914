"""Every trigger kind, matched by the one router (issue 9, "Triggers"): a contact whose history
entry matches the trigger is enrolled; a contact whose entry does not match is not. The entries
are the fixture events in events/triggers/entries.json, written as the stores write them and
handed to the router as RouteEventsFunction hands them on. On moto, with the EnrollQueue
delivering to the enroll function in-process."""

from __future__ import annotations

import pytest

from automaps.journeys import router
from automaps.maps.triggers import TRIGGER_MODELS
from tests.conftest import load_event
from tests.triggers.routing import a_contact, a_map, enrollments, history_kinds, routed, written

CASES = load_event("triggers/entries.json")


def test_given_the_fixture_events_then_every_trigger_kind_an_entry_starts_has_a_case():
    # form_submitted enrolls at post time; a moment starts the scheduled ones (tests/schedules)
    moments = {kind for kind, model in TRIGGER_MODELS.items() if model.scheduled}
    assert moments == {"schedule", "date_matches", "date_relative", "date_is"}
    assert {case["trigger"].popitem()[0] for case in load_event("triggers/entries.json").values()} == (
        set(TRIGGER_MODELS) - {"form_submitted"} - moments)


@pytest.mark.parametrize("name", sorted(CASES))
def test_given_a_map_with_the_trigger_when_entries_are_routed_then_only_the_matching_contact_is_enrolled(
        aws, clock, name):
    case = CASES[name]
    # GIVEN two contacts, and a map started by the trigger
    matching = a_contact("match@example.com", case.get("matching_contact"))
    other = a_contact("other@example.com", case.get("other_contact"))
    a_map("under-test", case["trigger"])

    # WHEN the matching entry is written on one's history, the other entry on the other's
    sort_key = routed(matching, case["matching"])
    routed(other, case["other"])

    # THEN the first is enrolled once, caused by that entry, with the entry as its event
    [enrolled] = enrollments(matching)
    assert enrolled.event["type"] == next(iter(case["trigger"]))
    assert enrolled.event["kind"] == case["matching"]["kind"]
    assert enrolled.event["entry"] == sort_key
    assert enrolled.event["depth"] == 0
    assert {k: enrolled.event[k] for k in case["matching"]["detail"]} == case["matching"]["detail"]
    assert history_kinds(matching, "under-test") == ["map.enrolled"]
    # AND the second is not enrolled, and nothing is recorded for them in the map
    assert enrollments(other) == []
    assert history_kinds(other, "under-test") == []


def test_given_a_form_trigger_when_a_form_submitted_entry_is_routed_then_the_router_enrolls_nobody(aws, clock):
    # GIVEN a map started by a form (a form post enrolls at post time, with its values)
    a_map("under-test", {"form_submitted": {"form": "newsletter"}}, {"event": {"kind": "form.submitted"}})
    contact = a_contact("jane@example.com")

    # WHEN the post's form.submitted entry reaches the router
    routed(contact, {"kind": "form.submitted", "detail": {"form": "newsletter"}})

    # THEN no enrollment comes of it (even for a generic event trigger on that kind)
    assert enrollments(contact) == []


def test_given_the_stream_record_of_a_tag_added_entry_when_handled_then_the_contact_is_enrolled(
        aws, clock, lambda_context):
    # GIVEN the contact whose entry the stream record carries (written before the map existed),
    # and a map started by the tag vip
    contact = a_contact("jane@example.com")
    sort_key, _ = written(contact, {"kind": "tags.changed", "detail": {"added": ["vip"], "removed": []}})
    a_map("under-test", {"tag_added": "vip"})
    event = load_event("triggers/stream_tag_added.json")
    image = event["Records"][0]["dynamodb"]["NewImage"]
    image["pk"]["S"] = event["Records"][0]["dynamodb"]["Keys"]["pk"]["S"] = f"CONTACT#{contact}"
    image["sk"]["S"] = event["Records"][0]["dynamodb"]["Keys"]["sk"]["S"] = sort_key

    # WHEN RouteEventsFunction's handler takes the batch
    answer = router.handle(event, lambda_context)

    # THEN nothing failed and the contact is enrolled by that entry
    assert answer == {"batchItemFailures": []}
    [enrolled] = enrollments(contact)
    assert (enrolled.event["type"], enrolled.event["entry"], enrolled.event["added"]) == ("tag_added", sort_key, ["vip"])
