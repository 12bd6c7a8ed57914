"""What counts as "provided" for a merge field (automaps.maps.validate, pure: maps and a
description of the content in memory, no files, no AWS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from automaps.maps.model import Map
from automaps.maps.validate import Content, Template, check_content, references

CONTENT = Content(
    templates={"welcome": Template(subject="Hi {{ contact.first_name | default('there') }}", html="<p>Hi</p>")},
    forms={"signup": {"email": "email", "first_name": "text", "age": "number"}},
    segments=frozenset({"vip"}),
)


def map_of(triggers: list, text: str, **more) -> Map:
    """GIVEN a map with these triggers whose one step is a note with ``text``."""
    return Map.model_validate({"id": "m", "name": "M", "triggers": triggers, **more,
                               "steps": [{"id": "note", "add_note": {"text": text}}]})


def problems(*maps: Map) -> list[str]:
    return [f.message for f in check_content({Path(f"maps/{m.id}-{i}.yaml"): m for i, m in enumerate(maps)}, CONTENT)]


@pytest.mark.parametrize(("text", "guarded"), [
    ("{{ contact.company }}", False),
    ("{{ contact.company | default('') }}", True),
    ("{{ contact.company | d('') }}", True),
    ("{% if contact.company %}{{ contact.company }}{% endif %}", True),
    ("{% if contact.company %}yes{% else %}{{ contact.company }}{% endif %}", False),
    ("{{ contact.company if contact.company else 'none' }}", True),
    ("{{ contact.company is defined }}", True),
    ("{{ contact.company or 'none' }}", True),
    ("{{ contact.company | upper }}", False),
    ("{{ contact['company'] }}", False),
])
def test_given_a_use_of_a_field_when_read_then_it_is_guarded_only_where_a_missing_value_is_handled(text, guarded):
    found = [r for r in references(text) if r.dotted == "contact.company"]

    assert found and all(r.guarded == guarded for r in found[-1:])


def test_given_a_loop_variable_when_read_then_it_is_not_a_merge_field():
    assert [r.dotted for r in references("{% for tag in contact.tags %}{{ tag.name }}{% endfor %}")] == ["contact.tags"]


def test_given_fields_of_forms_standard_ones_and_ones_another_map_sets_when_checked_then_they_are_provided():
    setter = Map.model_validate({"id": "setter", "name": "S", "triggers": [{"tag_added": "vip"}],
                                 "steps": [{"update_contact": {"set": {"plan": "gold"}}}]})
    reader = map_of([{"form_submitted": {"form": "signup"}}],
                    "{{ contact.first_name }} {{ contact.age }} {{ contact.phone }} {{ contact.plan }} {{ contact.id }}")

    assert problems(setter, reader) == []


@pytest.mark.parametrize(("trigger", "fine", "missing"), [
    ({"tag_added": "vip"}, "event.added", "event.cart_id"),
    ({"purchase_made": "course-101"}, "event.total", "event.added"),
    ({"form_submitted": {"form": "signup"}}, "event.fields.age", "event.product"),
    ({"segment_entered": "vip"}, "event.segment", "event.fields"),
])
def test_given_a_trigger_when_checked_then_the_events_keys_it_carries_are_provided_and_others_are_not(
        trigger, fine, missing):
    assert problems(map_of([trigger], f"{{{{ {fine} }}}}")) == []
    assert len(problems(map_of([trigger], f"{{{{ {missing} }}}}"))) == 1


def test_given_an_event_trigger_on_a_custom_kind_when_checked_then_any_event_key_and_offer_are_provided():
    """An ingested custom event carries the shop's own data, which nothing here can know."""
    map_ = map_of([{"event": {"kind": "shop.cart_abandoned"}}], "{{ event.cart_url }} {{ offer.code }}")

    assert problems(map_) == []


def test_given_a_sequence_when_checked_then_the_event_of_being_added_by_another_map_is_provided():
    map_ = Map.model_validate({"id": "seq", "name": "S", "kind": "sequence",
                               "steps": [{"add_note": {"text": "added by {{ event.by_map }} at {{ event.cartt }}"}}]})

    assert problems(map_) == [
        "{{ event.cartt }}: no trigger of this map (added_to_automation) carries 'cartt'; the event has: at, "
        "by_map, by_step, chain, depth, entry, kind, map, type, waiting; or write {{ event.cartt | default('...') }}"]


def test_given_a_name_without_its_root_when_checked_then_it_says_merge_fields_start_with_contact_event_or_offer():
    assert problems(map_of([{"tag_added": "vip"}], "{{ first_name }}")) == [
        "unknown merge field {{ first_name }}; merge fields start with contact., event. or offer. "
        "(e.g. {{ contact.first_name }})"]


@pytest.mark.parametrize(("test", "wrong"), [
    ({"name": "age", "gt": 40}, False),
    ({"name": "age", "gt": "40.5"}, False),
    ({"name": "age", "gt": "forty"}, True),
    ({"name": "age", "eq": "forty"}, True),
    ({"name": "joined", "gt": "2026-01-31"}, False),
    ({"name": "plan", "eq": "gold"}, False),
    ({"name": "plan", "lt": "gold"}, True),
])
def test_given_a_field_test_when_checked_then_only_non_numbers_where_numbers_are_compared_are_refused(test, wrong):
    """age is a number on the signup form; joined and plan are on no form."""
    map_ = Map.model_validate({"id": "m", "name": "M", "triggers": [{"tag_added": "vip"}],
                               "steps": [{"id": "check", "if": {"field": test}, "then": ["end"]}]})

    assert bool(problems(map_)) == wrong


def test_given_an_unquoted_date_compared_when_checked_then_it_is_accepted_as_the_iso_date():
    import yaml

    map_ = Map.model_validate({"id": "m", "name": "M", "triggers": [{"tag_added": "vip"}], "steps": [
        {"id": "check", "if": {"field": yaml.safe_load("{name: joined, gt: 2026-01-31}")}, "then": ["end"]}]})

    assert problems(map_) == []


def test_given_an_email_of_another_map_that_it_does_not_send_when_checked_then_its_email_steps_are_listed():
    sender = Map.model_validate({"id": "sender", "name": "S", "triggers": [{"tag_added": "vip"}],
                                 "steps": [{"id": "welcome-email", "send_email": {"template": "welcome"}}]})
    reader = Map.model_validate({"id": "reader", "name": "R",
                                 "triggers": [{"email_opened": {"map": "sender", "step": "welcome-emial"}}],
                                 "steps": [{"id": "engaged", "if": {"opened_email": {"email": "welcome-email",
                                                                                     "map": "sender"}},
                                            "then": ["end"]}]})

    assert problems(sender, reader) == [
        "map 'sender' has no send_email step 'welcome-emial' (did you mean welcome-email?); its send_email steps "
        "with an id: welcome-email"]


def test_given_a_field_a_date_trigger_reads_when_checked_then_it_is_provided():
    """A birthday map says the contacts have a birthday (imported: no form asks for it)."""
    map_ = map_of([{"date_matches": {"field": "birthday", "timezone": "Europe/Paris"}}],
                  "Happy birthday ({{ contact.birthday }}), {{ contact.nickname }}")

    assert [message.split(":")[0] for message in problems(map_)] == ["{{ contact.nickname }}"]
