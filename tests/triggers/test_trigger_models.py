"""The trigger models (maps/triggers.py): short forms, only_if, and errors that say what to write."""

from __future__ import annotations

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from automaps.maps.model import TriggerKey
from automaps.maps.triggers import TRIGGER_MODELS, Trigger

TRIGGERS = TypeAdapter(Trigger)


@pytest.mark.parametrize(("written", "spec", "key"), [
    ({"tag_added": "vip"}, {"tag": "vip"}, "vip"),
    ({"purchase_made": True}, {}, ""),
    ({"purchase_made": "course-101"}, {"product": "course-101"}, "course-101"),
    ({"contact_created": None}, {}, ""),
    ({"page_visited": "https://example.com/pricing"}, {"url": "https://example.com/pricing"},
     "https://example.com/pricing"),
    ({"page_visited": "pricing"}, {"page": "pricing"}, "pricing"),
    ({"field_updated": {"field": "plan", "value": "gold"}}, {"field": "plan", "value": {"eq": "gold"}}, "plan"),
    ({"added_to_automation": {"from": "onboarding"}}, {"from": "onboarding"}, "onboarding"),
    ({"event": {"kind": "webinar.attended"}}, {"kind": "webinar.attended"}, "webinar.attended"),
])
def test_given_a_trigger_as_written_then_its_spec_and_key_are_what_the_registry_keeps(written, spec, key):
    trigger = TRIGGERS.validate_python(written)
    assert (trigger.kind, trigger.spec(), trigger.key) == (next(iter(written)), spec, key)
    assert TRIGGERS.validate_python({trigger.kind: trigger.spec()}) == trigger  # the registry's form reads back


def test_given_only_if_then_it_is_kept_as_the_condition_model_dumps_it():
    trigger = TRIGGERS.validate_python({"tag_added": "vip", "only_if": {"field": {"name": "age", "gt": 45}}})
    assert trigger.only_if_spec() == {"field": {"name": "age", "gt": 45}}
    assert TRIGGERS.validate_python({"tag_added": "vip"}).only_if_spec() is None


def test_given_a_form_trigger_then_its_trigger_key_is_the_form_id_as_forms_look_it_up():
    trigger = TRIGGERS.validate_python({"form_submitted": {"form": "newsletter"}})
    assert TriggerKey(trigger.kind, trigger.key) == ("form_submitted", "newsletter")


def test_given_every_trigger_then_each_listens_to_a_history_kind_or_is_started_by_a_moment():
    for kind, model in TRIGGER_MODELS.items():
        assert model.kind == kind
        assert bool(model.listens_to) != model.scheduled or kind == "event"


@pytest.mark.parametrize(("written", "message"), [
    ({"tag_add": "vip"}, "unknown trigger 'tag_add' (did you mean tag_added?); supported triggers: form_submitted, "),
    ({"tag_added": "vip", "purchase_made": True}, "a trigger is a mapping with one key (and optionally only_if)"),
    ({"tag_added": {}}, "Field required"),
    ({"tag_added": {"tags": "vip"}}, "Extra inputs are not permitted"),
    ({"email_opened": {"step": "welcome-email"}},
     "step 'welcome-email' is a step of another map: name it too, e.g. {map: welcome-leads, step: welcome-email}"),
    ({"tag_added": "vip", "only_if": {"has_tags": "x"}}, "a condition is a mapping with one key"),
    ({"event": {"kind": "purchase.made", "where": {"total": {"above": 5}}}}, "unknown operator 'above'"),
    ({"field_updated": {"field": "age", "value": {"gt": 1, "lt": 9}}}, "needs exactly one operator"),
])
def test_given_a_mistake_then_the_error_says_what_to_write(written, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        TRIGGERS.validate_python(written)
