"""The map model: step labels, versions, triggers and the shapes a step may take."""

from __future__ import annotations

from automaps.maps.loader import load_map
from automaps.maps.model import EndStep, Map, TriggerKey, WaitSpec, When, walk
from tests.maps.conftest import ROOT


def test_given_nested_steps_then_labels_are_ids_or_positions_relative_to_the_closest_id(write_map):
    map_ = load_map(write_map("""\
        - change_tags: {add: [lead]}
        - id: engaged
          if: {has_tag: engaged}
          then:
            - send_sms: {text: hi}
          else:
            - if: {has_tag: vip}
              then:
                - id: vip-note
                  add_note: {text: vip}
                - add_note: {text: after}
        - switch:
            - when: {has_tag: a}
              then: [{add_note: {text: a}}]
          default: [{add_note: {text: b}}]
        - fork:
            - [{add_note: {text: x}}]
            - [{add_note: {text: y}}]
        """))

    assert [(ref.label, ref.branch) for ref in walk(map_)] == [
        ("0", ()), ("engaged", ()), ("engaged.then.0", ()), ("engaged.else.0", ()), ("vip-note", ()),
        ("engaged.else.0.then.1", ()), ("2", ()), ("2.switch.0.then.0", ()), ("2.default.0", ()),
        ("3", ()), ("3.fork.0.0", ("steps", 3, "fork", 0)), ("3.fork.1.0", ("steps", 3, "fork", 1)),
    ]


def test_given_the_bare_word_end_or_an_end_mapping_then_both_are_the_same_step(write_map):
    map_ = load_map(write_map("- if: {has_tag: a}\n  then: [end]\n  else: [{end: {}}]\n"))

    then_end, else_end = map_.steps[0].then[0], map_.steps[0].else_[0]
    assert isinstance(then_end, EndStep) and then_end == else_end


def test_given_the_same_map_formatted_differently_then_its_version_is_the_same(write_map):
    compact = load_map(write_map("- send_email: {template: welcome}\n", name="a.yaml"))
    spread = load_map(write_map("# a comment\n-   send_email:\n      template: 'welcome'\n", name="b.yaml"))

    assert compact.content_hash() == spread.content_hash()
    assert len(compact.content_hash()) == 12


def test_given_a_changed_setting_then_the_version_changes(write_map):
    before = load_map(write_map("- send_email: {template: welcome}\n", name="a.yaml"))
    after = load_map(write_map("- send_email: {template: welcome-v2}\n", name="b.yaml"))

    assert before.content_hash() != after.content_hash()


def test_given_a_map_then_its_trigger_keys_are_what_enrollment_looks_up():
    map_ = load_map(ROOT / "maps" / "welcome-leads.yaml")

    assert map_.trigger_keys() == [TriggerKey("form_submitted", "newsletter")]


def test_given_defaults_then_a_map_reenters_after_exit_skips_missing_fields_and_has_no_fallback_timezone(write_map):
    map_ = load_map(write_map("- end\n"))

    assert (map_.entry.reenter, map_.entry.min_interval, map_.missing_fields, map_.fallback_timezone) == (
        "after_exit", None, "skip", None)


def test_given_a_map_timezone_then_it_is_the_fallback_for_contacts_without_one(write_map):
    map_ = load_map(write_map("id: m\nname: M\ntimezone: Europe/Paris\ntriggers: [{form_submitted: {form: f}}]\n"
                              "steps: [end]\n", full=True))

    assert map_.fallback_timezone == "Europe/Paris"


def test_given_waits_then_only_those_needing_the_contact_or_the_clock_are_resolved_at_run_time():
    fixed = [{"days": 2}, {"delay": {"days": 2}}, {"until": "2027-01-01T00:00:00Z"}, {"at": "2027-01-01T00:00:00Z"},
             {"until": "2027-01-01T00:00:00Z", "if_past": "run"}]
    resolved = [{"at": "09:00"}, {"weekdays": ["mon"]}, {"until_field": "webinar_at"}, {"between": ["09:00", "17:00"]},
                {"until": "2027-01-01T00:00:00Z", "if_past": "skip"}]

    for model in (WaitSpec, When):
        assert [model.model_validate(w).needs_resolving for w in fixed] == [False] * len(fixed)
        assert [model.model_validate(w).needs_resolving for w in resolved] == [True] * len(resolved)
    assert WaitSpec.model_validate({"weeks": 1, "hours": 1.5}).delay_seconds == 7 * 86400 + 5400


def test_given_a_map_built_in_code_then_it_validates_like_a_file():
    map_ = Map.model_validate({"id": "m", "name": "M", "triggers": [{"form_submitted": {"form": "f"}}],
                               "steps": ["end"]})

    assert isinstance(map_.steps[0], EndStep)
