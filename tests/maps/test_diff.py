"""The diff of two versions of a map (automaps.maps.diff): steps added, removed and changed by
their label (the ``step`` of a contact's position), each change said in words and of one aspect
(type, settings, condition, timing, next, place), and the map's own changes."""

from __future__ import annotations

import textwrap

import yaml

from automaps.maps.diff import diff_maps
from automaps.maps.model import Map

WELCOME = """\
- id: tag-lead
  change_tags: {add: [lead]}
- id: welcome-email
  send_email: {template: welcome}
- id: two-days-later
  wait: {days: 2}
- id: engaged
  if: {opened_email: welcome-email}
  then:
    - id: thank-you
      send_sms: {text: Thanks}
  else:
    - id: nudge-email
      send_email: {template: nudge}
      only_if: {field: {name: age, gt: 45}}
"""


def a_map(steps: str, head: str = "") -> Map:
    """GIVEN a map with these steps (and extra top-level keys)."""
    text = "id: welcome\nname: Welcome\ntriggers:\n  - form_submitted: {form: newsletter}\n"
    text += textwrap.dedent(head) + "steps:\n" + textwrap.indent(textwrap.dedent(steps), "  ")
    return Map.model_validate(yaml.safe_load(text))


def edited(*replacements: tuple[str, str], steps: str = WELCOME, head: str = "") -> Map:
    for old, new in replacements:
        assert old in steps, old
        steps = steps.replace(old, new)
    return a_map(steps, head)


def texts(diff, label: str) -> list[tuple[str, str]]:
    step = diff.step(label)
    assert step is not None, label
    return [(change.aspect, change.text) for change in step.changes]


def test_given_the_same_map_then_nothing_changed():
    diff = diff_maps(a_map(WELCOME), a_map(WELCOME))

    assert diff.unchanged and diff.affected == []
    assert diff.old_version == diff.new_version == a_map(WELCOME).content_hash()


def test_given_no_old_map_then_every_step_is_added_in_reading_order():
    diff = diff_maps(None, a_map(WELCOME))

    assert diff.old_version is None
    assert [(s.step, s.status, s.kind) for s in diff.added] == [
        ("tag-lead", "added", "change_tags"), ("welcome-email", "added", "send_email"),
        ("two-days-later", "added", "wait"), ("engaged", "added", "if"), ("thank-you", "added", "send_sms"),
        ("nudge-email", "added", "send_email")]
    assert diff.removed == diff.changed == [] and diff.affected == []


def test_given_a_step_added_then_it_is_added_and_the_step_before_now_leads_to_it():
    after = edited(("- id: two-days-later", "- id: reminder\n  send_email: {template: reminder}\n- id: two-days-later"))

    diff = diff_maps(a_map(WELCOME), after)

    assert [(s.step, s.path, s.named) for s in diff.added] == [("reminder", "steps[2]", True)]
    assert [s.step for s in diff.changed] == ["welcome-email"]
    assert texts(diff, "welcome-email") == [("next", "next step: 'two-days-later' -> 'reminder'")]
    assert diff.removed == [] and diff.map_changes == []


def test_given_a_step_removed_then_it_is_removed_with_its_old_place_and_the_flow_around_it_changes():
    after = edited(("- id: two-days-later\n  wait: {days: 2}\n", ""))

    diff = diff_maps(a_map(WELCOME), after)

    assert [(s.step, s.status, s.kind, s.path) for s in diff.removed] == [
        ("two-days-later", "removed", "wait", "steps[2]")]
    assert texts(diff, "welcome-email") == [("next", "next step: 'two-days-later' -> 'engaged'")]
    assert diff.affected == ["welcome-email", "two-days-later"]


def test_given_a_changed_setting_then_the_step_changed_in_its_settings_key_by_key():
    diff = diff_maps(a_map(WELCOME), edited(("template: nudge", "template: nudge-v2")))

    [step] = diff.changed
    assert (step.step, step.kind, step.path, step.aspects) == ("nudge-email", "send_email", "steps[3].else[0]",
                                                               ["settings"])
    assert [(c.key, c.old, c.new) for c in step.changes] == [("template", "nudge", "nudge-v2")]
    assert texts(diff, "nudge-email") == [("settings", "setting template: 'nudge' -> 'nudge-v2'")]


def test_given_changed_conditions_then_the_if_and_the_only_if_changed_in_their_condition():
    after = edited(("if: {opened_email: welcome-email}", "if: {clicked_link: {email: welcome-email}}"),
                   ("gt: 45", "gt: 50"))

    diff = diff_maps(a_map(WELCOME), after)

    assert [(s.step, s.aspects) for s in diff.changed] == [("engaged", ["condition"]),
                                                           ("nudge-email", ["condition"])]
    [(aspect, text)] = texts(diff, "nudge-email")
    assert text.startswith("condition only_if: {field: {") and "gt: 45" in text and text.count("gt: 50") == 1
    [engaged] = diff.step("engaged").changes
    assert engaged.key == "if" and "clicked_link" in str(engaged.new) and "opened_email" in str(engaged.old)


def test_given_changed_timing_then_the_wait_and_the_actions_when_changed_in_their_timing():
    after = edited(("wait: {days: 2}", "wait: {days: 3}"),
                   ("template: nudge}", "template: nudge}\n      when: {delay: {hours: 4}}"))

    diff = diff_maps(a_map(WELCOME), after)

    assert texts(diff, "two-days-later") == [("timing", "timing wait.days: 2 -> 3")]
    [(aspect, text)] = texts(diff, "nudge-email")
    assert aspect == "timing" and text.startswith("timing when: (none) -> {") and "hours: 4" in text


def test_given_a_branch_that_leads_elsewhere_then_the_if_changed_in_where_it_goes():
    after = edited(("  else:\n    - id: nudge-email", "  else:\n    - id: last-chance\n      add_note: {text: x}\n"
                    "    - id: nudge-email"))

    diff = diff_maps(a_map(WELCOME), after)

    assert texts(diff, "engaged") == [("next", "else goes to: 'nudge-email' -> 'last-chance'")]
    assert [s.step for s in diff.added] == ["last-chance"]
    assert diff.step("nudge-email") is None  # same settings, same next (the map's end), same branch


def test_given_a_go_to_retargeted_and_a_step_made_an_end_then_next_and_type_say_so():
    loop = "- id: start\n  add_note: {text: a}\n- id: again\n  wait: {days: 1}\n- id: jump\n  go_to: start\n"
    diff = diff_maps(a_map(loop), a_map(loop.replace("go_to: start", "go_to: again")
                                        .replace("  wait: {days: 1}", "  send_email: {template: t}")))

    assert texts(diff, "jump") == [("next", "go_to: 'start' -> 'again'")]
    assert texts(diff, "again") == [("type", "type: wait -> send_email")]


def test_given_a_step_moved_into_a_branch_then_its_place_and_the_flow_changed():
    after = edited(("- id: welcome-email\n  send_email: {template: welcome}\n", ""),
                   ("    - id: thank-you", "    - id: welcome-email\n      send_email: {template: welcome}\n"
                    "    - id: thank-you"))

    diff = diff_maps(a_map(WELCOME), after)

    assert texts(diff, "welcome-email") == [
        ("next", "next step: 'two-days-later' -> 'thank-you'"),
        ("place", "moved from the map's steps to the then branch of 'engaged'")]
    assert texts(diff, "engaged") == [("next", "then goes to: 'thank-you' -> 'welcome-email'")]


def test_given_a_step_without_id_inserted_above_others_then_they_are_matched_by_position():
    before = a_map("- add_note: {text: a}\n- add_note: {text: b}\n")
    after = a_map("- add_note: {text: new}\n- add_note: {text: a}\n- add_note: {text: b}\n")

    diff = diff_maps(before, after)

    assert [(s.step, s.named) for s in diff.added] == [("2", False)]
    assert texts(diff, "0") == [("settings", "setting text: 'a' -> 'new'")]
    assert texts(diff, "1") == [("settings", "setting text: 'b' -> 'a'"), ("next", "next step: leaves the map -> '2'")]


def test_given_changed_triggers_goals_and_settings_then_the_map_changes_list_them_in_order():
    head = "goals:\n  - {id: bought, event: {kind: purchase.made}}\nentry: {reenter: after_exit}\n"
    before = a_map(WELCOME, head)
    after = a_map(WELCOME, head.replace("purchase.made", "order.paid").replace("after_exit", "always")
                  + "timezone: Europe/Paris\n")

    diff = diff_maps(before, after)

    assert [(c.aspect, c.key) for c in diff.map_changes] == [
        ("goals", "bought"), ("settings", "entry.reenter"), ("settings", "timezone")]
    assert diff.map_changes[0].text == "goal bought: event.kind 'purchase.made' -> 'order.paid'"
    assert diff.map_changes[1].text == "setting entry.reenter: 'after_exit' -> 'always'"
    assert diff.map_changes[2].text == "setting timezone: 'UTC' -> 'Europe/Paris'"
    assert diff.changed == diff.added == diff.removed == []


def test_given_a_trigger_added_and_one_removed_then_each_is_said():
    before = a_map(WELCOME)
    after = Map.model_validate({**before.model_dump(mode="json", by_alias=True),
                                "triggers": [{"tag_added": {"tag": "vip"}}]})

    diff = diff_maps(before, after)

    assert [(c.aspect, c.key, c.text.split(":")[0]) for c in diff.map_changes] == [
        ("triggers", "form_submitted newsletter", "trigger removed"),
        ("triggers", "tag_added vip", "trigger added")]


def test_given_the_same_edit_twice_then_the_diff_is_the_same():
    after = edited(("wait: {days: 2}", "wait: {days: 3}"), ("template: welcome", "template: hello"))

    assert diff_maps(a_map(WELCOME), after).model_dump() == diff_maps(a_map(WELCOME), after).model_dump()


def test_given_a_goal_step_awaiting_something_else_for_longer_then_its_condition_and_timing_changed():
    goal = "- id: nudge\n  send_email: {template: nudge}\n- id: bought\n  goal: {event: {kind: purchase.made}, timeout: {days: 3}}\n"
    after = a_map(goal.replace("purchase.made", "order.paid").replace("{days: 3}", "{days: 7, hours: 12}"))

    diff = diff_maps(a_map(goal), after)

    assert texts(diff, "bought") == [
        ("condition", "condition goal.event: {kind: purchase.made} -> {kind: order.paid}"),
        ("timing", "timing goal.timeout: {days: 3} -> {days: 7, hours: 12}")]
