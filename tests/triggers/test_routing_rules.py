"""What every routed trigger obeys (issue 9): only_if on the contact, an entry delivered twice
enrolls once, the map's entry rules, bounded chains of maps, and no reads for entries nobody
listens to. On moto; entries reach the router through the contacts table's stream."""

from __future__ import annotations

from datetime import timedelta

from automaps import aws as aws_clients
from automaps.journeys import enrollment
from automaps.journeys import triggers as routing
from automaps.store.contacts import ContactStore
from tests.triggers.routing import (
    a_contact,
    a_map,
    delivered_again,
    enrollments,
    history_kinds,
    routed,
    skipped,
    written,
)

VIP = {"kind": "tags.changed", "detail": {"added": ["vip"], "removed": []}}


# ------------------------------------------------------------------ only_if


def test_given_a_trigger_with_only_if_when_two_contacts_match_it_then_only_the_one_it_holds_for_is_enrolled(
        aws, clock):
    # GIVEN a customer and a lead, and a map started by the tag vip only for customers
    customer = a_contact("customer@example.com", {"plan": "gold"}, tags=("customer",))
    lead = a_contact("lead@example.com", {"plan": "gold"})
    a_map("under-test", {"tag_added": {"tag": "vip"}, "only_if": {"has_tag": "customer"}})

    # WHEN both get the tag vip
    routed(customer, VIP)
    routed(lead, VIP)

    # THEN the customer is enrolled, the lead is not
    assert len(enrollments(customer)) == 1
    assert enrollments(lead) == []


def test_given_only_if_on_a_field_when_the_field_changes_then_the_condition_reads_the_contact_now(aws, clock):
    # GIVEN a map started when plan changes, only for contacts over 45
    older = a_contact("older@example.com", {"plan": "gold", "age": "52"})
    younger = a_contact("younger@example.com", {"plan": "gold", "age": "30"})
    a_map("under-test", {"field_updated": {"field": "plan"}, "only_if": {"field": {"name": "age", "gt": 45}}})

    # WHEN both contacts' plan is updated
    for contact in (older, younger):
        routed(contact, {"kind": "contact.updated", "detail": {"set": ["plan"], "cleared": []}})

    # THEN only the older one is enrolled
    assert [len(enrollments(older)), len(enrollments(younger))] == [1, 0]


# ------------------------------------------------------------------ at least once


def test_given_an_entry_when_it_is_delivered_twice_then_the_contact_is_enrolled_once(aws, clock):
    # GIVEN a map started by the tag vip, with entry: always (a second enrollment would be admitted)
    contact = a_contact("jane@example.com")
    arn = a_map("under-test", {"tag_added": "vip"}, reenter="always")

    # WHEN the entry is written (the stream delivers it) and delivered twice more
    sort_key = routed(contact, VIP)
    delivered_again(contact, sort_key, VIP, clock.now())
    delivered_again(contact, sort_key, VIP, clock.now())

    # THEN there is one enrollment, one execution, one map.enrolled
    assert len(enrollments(contact)) == 1
    assert len(aws_clients.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]) == 1
    assert history_kinds(contact, "under-test") == ["map.enrolled"]


def test_given_two_triggers_of_one_map_when_one_entry_matches_both_then_the_contact_is_enrolled_once(aws, clock):
    contact = a_contact("jane@example.com")
    a_map("under-test", {"tag_added": "vip"}, {"tag_added": "gold"}, reenter="always")

    routed(contact, {"kind": "tags.changed", "detail": {"added": ["gold", "vip"], "removed": []}})

    [enrolled] = enrollments(contact)
    assert enrolled.event["type"] == "tag_added"


def test_given_two_maps_on_one_trigger_when_the_entry_is_routed_then_both_enroll_and_route_names_them(aws, clock):
    contact = a_contact("jane@example.com")
    a_map("first", {"tag_added": "vip"})
    a_map("second", {"event": {"kind": "tags.changed", "where": {"added": {"contains": "vip"}}}})
    sort_key, entry = written(contact, VIP)

    assert sorted(routing.route(contact, sort_key, entry)) == ["first", "second"]
    assert [len(enrollments(contact, "first")), len(enrollments(contact, "second"))] == [1, 1]


# ------------------------------------------------------------------ entry rules


def test_given_entry_never_when_a_second_entry_matches_then_the_contact_is_not_enrolled_again(aws, clock):
    contact = a_contact("jane@example.com")
    a_map("under-test", {"tag_added": "vip"}, reenter="never")

    routed(contact, VIP)
    enrollment.release(contact, "under-test", enrollments(contact)[0].enrollment_id)  # the run has exited
    clock.advance(days=30)
    routed(contact, VIP)

    assert len(enrollments(contact)) == 1
    [skip] = skipped(contact)
    assert "entry: never" in skip.detail["reason"]


def test_given_entry_after_exit_when_an_entry_matches_inside_then_after_the_exit_then_only_the_later_enrolls(
        aws, clock):
    contact = a_contact("jane@example.com")
    a_map("under-test", {"tag_added": "vip"}, reenter="after_exit")

    routed(contact, VIP)
    clock.advance(hours=1)
    routed(contact, VIP)  # still inside: refused
    enrollment.release(contact, "under-test", enrollments(contact)[0].enrollment_id)
    clock.advance(hours=1)
    routed(contact, VIP)  # exited: admitted

    assert len(enrollments(contact)) == 2
    [skip] = skipped(contact)
    assert "still inside the map" in skip.detail["reason"]


def test_given_entry_always_when_entries_match_while_inside_then_each_enrolls(aws, clock):
    contact = a_contact("jane@example.com")
    a_map("under-test", {"tag_added": "vip"}, reenter="always")

    for _ in range(3):
        routed(contact, VIP)
        clock.advance(minutes=1)

    assert len(enrollments(contact)) == 3
    assert skipped(contact) == []


def test_given_a_min_interval_when_entries_match_closer_then_farther_apart_then_only_spaced_ones_enroll(aws, clock):
    contact = a_contact("jane@example.com")
    a_map("under-test", {"tag_added": "vip"}, reenter="always", min_interval=int(timedelta(days=1).total_seconds()))

    routed(contact, VIP)
    clock.advance(hours=3)
    routed(contact, VIP)  # 3 h later: refused
    clock.advance(hours=22)
    routed(contact, VIP)  # 25 h after the first: admitted

    assert len(enrollments(contact)) == 2
    [skip] = skipped(contact)
    assert "min_interval" in skip.detail["reason"]


# ------------------------------------------------------------------ chains of maps


def test_given_two_maps_that_start_each_other_when_the_loop_runs_then_it_stops_at_the_depth_limit_recorded(
        aws, clock):
    # GIVEN map a (started by tag a-go) whose step tags b-go, and map b (started by b-go) whose
    # step tags a-go: a loop; both admit re-entry at any time
    contact = a_contact("jane@example.com")
    a_map("a", {"tag_added": "a-go"}, reenter="always")
    a_map("b", {"tag_added": "b-go"}, reenter="always")
    store = ContactStore()

    # WHEN the contact gets a-go from outside any map, and each enrollment's step then writes
    # the tag entry that starts the other map (as change_tags records it: map, step, enrollment)
    routed(contact, {"kind": "tags.changed", "detail": {"added": ["a-go"], "removed": []}})
    steps = 0
    while True:
        newest = max((e for m in ("a", "b") for e in store.enrollments(contact, m)), key=lambda e: e.event["depth"])
        if steps > 20 or skipped(contact):
            break
        other = "b" if newest.map_id == "a" else "a"
        clock.advance(seconds=1)
        routed(contact, {"kind": "tags.changed", "detail": {"added": [f"{other}-go"], "removed": []},
                         "map_id": newest.map_id, "step_id": "hand-over", "enrollment_id": newest.enrollment_id})
        steps += 1

    # THEN the chain ran to depth 10 (11 enrollments: depths 0..10) and the 12th start was refused
    runs = sorted((e.event["depth"], e.map_id) for m in ("a", "b") for e in store.enrollments(contact, m))
    assert runs == [(depth, "a" if depth % 2 == 0 else "b") for depth in range(routing.MAX_CHAIN_DEPTH + 1)]
    # AND map.enroll_skipped says so once, naming the loop and the maps
    [skip] = skipped(contact)
    assert skip.detail["chain_limit"] is True and skip.detail["depth"] == routing.MAX_CHAIN_DEPTH + 1
    assert skip.detail["maps"] == ["b"]
    assert skip.detail["reason"].startswith(
        f"a chain of maps went deeper than {routing.MAX_CHAIN_DEPTH} (a -> b -> a -> b")
    assert skip.map_id == "a"
    # AND delivering that entry again records nothing more
    entry = next(h for h in store.history(contact) if h.kind == "tags.changed" and h.detail["added"] == ["b-go"]
                 and h.enrollment_id == max(store.enrollments(contact, "a"),
                                            key=lambda e: e.event["depth"]).enrollment_id)
    delivered_again(contact, skip.detail["entry"], entry.model_dump(exclude={"at"}), entry.at)
    assert len(skipped(contact)) == 1


# ------------------------------------------------------------------ cost


def test_given_no_trigger_listens_to_a_kind_when_such_an_entry_is_routed_then_nothing_is_read(aws, clock):
    # GIVEN a map started by the tag vip, and the registry already read once
    contact = a_contact("jane@example.com")
    a_map("under-test", {"tag_added": "vip"})
    sort_key, entry = written(contact, {"kind": "sms.sent", "detail": {"to": "+1415555****"}})
    routing.listeners()
    calls: list[str] = []
    aws_clients.client("dynamodb").meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name))

    # WHEN an entry of a kind no trigger listens to is routed
    assert routing.route(contact, sort_key, entry) == []

    # THEN no request was made at all (not even the contact's profile)
    assert calls == []


def test_given_an_automation_added_entry_naming_the_adding_map_by_by_map_then_the_chain_goes_on_from_its_run(
        aws, clock):
    # GIVEN map a (started by the tag a-go) and map under-test (started when a map adds the contact)
    contact = a_contact("jane@example.com")
    a_map("a", {"tag_added": "a-go"})
    a_map("under-test", {"added_to_automation": {"from": "a"}})
    routed(contact, {"kind": "tags.changed", "detail": {"added": ["a-go"], "removed": []}})
    [run_of_a] = enrollments(contact, "a")

    # WHEN a's run adds the contact to under-test (the entry names a as by_map, and a's enrollment)
    routed(contact, {"kind": "automation.added", "detail": {"map": "under-test", "by_map": "a", "by_step": "hand-over"},
                     "enrollment_id": run_of_a.enrollment_id})

    # THEN under-test's run is one deeper than a's, with a in its chain and by_map in its event
    [added] = enrollments(contact)
    assert (added.event["depth"], added.event["chain"], added.event["by_map"]) == (1, ["a"], "a")
