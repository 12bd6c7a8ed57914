"""Every mistake in a map is reported as `<file>: <step> (<where>): <what to change>`.

The step is named by its id when it has one, else by its position (``steps[3].then[0]``).
"""

from __future__ import annotations

import pytest

from automaps.maps.loader import MapError, load_map, load_maps
from tests.maps.conftest import HEADER


def error_of(path) -> str:
    with pytest.raises(MapError) as caught:
        load_map(path)
    return str(caught.value)


# ---------------------------------------------------------------- YAML


def test_given_broken_yaml_when_loaded_then_the_error_gives_the_line_and_column(write_map):
    path = write_map(HEADER + "steps:\n  - send_sms: {text: Hello: world}\n", full=True)

    message = error_of(path)

    assert message.startswith(f"{path}: line 6, column 27: YAML syntax error: expected ',' or '}}', but got ':'; "
                              "check the indentation")
    assert "YAML syntax error" in message and "quotes" in message


def test_given_a_key_written_twice_when_loaded_then_the_error_names_the_key_and_its_line(write_map):
    path = write_map(HEADER + "name: Again\nsteps: [end]\n", full=True)

    assert error_of(path) == (f"{path}: line 5, column 1: YAML syntax error: key 'name' appears twice in the same "
                              "mapping; keep one; check the indentation, and put quotes around text that contains "
                              "': ' or starts with {, [, *, &, !, % or @")


def test_given_a_file_that_is_a_list_when_loaded_then_the_error_says_a_map_is_one_mapping(write_map):
    path = write_map("- end\n", full=True)

    assert error_of(path) == f"{path}: a map file holds one mapping with id, name, triggers and steps; found a list"


# ---------------------------------------------------------------- the map's own keys


def test_given_map_goals_when_loaded_then_they_load_with_what_achieves_them(write_map):
    path = write_map(HEADER + "goals: [{id: bought, event: {kind: purchase.made}}, {id: vip, condition: {has_tag: vip}}]"
                              "\nsteps: [end]\n", full=True)

    goals = load_map(path).goals

    assert [(goal.id, goal.then) for goal in goals] == [("bought", "exit"), ("vip", "exit")]
    assert goals[0].event.kind == "purchase.made" and goals[1].condition is not None


def test_given_a_map_goal_without_condition_or_event_when_loaded_then_the_error_says_to_give_one(write_map):
    path = write_map(HEADER + "goals: [{id: bought}]\nsteps: [end]\n", full=True)

    assert error_of(path) == f"{path}: goals[0]: a goal has either condition or event"


@pytest.mark.parametrize(("on_error", "says"), [
    ("{wait: skip}", "on_error.wait: input should be 'exit' or 'continue'; got 'skip'"),
    ("{waits: exit}", "on_error: unknown key 'waits' (did you mean wait?); remove it or correct its spelling"),
])
def test_given_an_unknown_on_error_policy_when_loaded_then_the_error_names_the_choices(write_map, on_error, says):
    path = write_map(HEADER + f"on_error: {on_error}\nsteps: [end]\n", full=True)

    assert error_of(path) == f"{path}: {says}"


def test_given_a_misspelt_map_key_when_loaded_then_the_error_suggests_the_right_one(write_map):
    path = write_map(HEADER + "step: [end]\n", full=True)

    message = error_of(path)

    assert f"{path}: missing required key 'steps'" in message
    assert f"{path}: unknown key 'step' (did you mean steps?); a map has: id, name, description" in message


def test_given_a_map_id_with_capitals_when_loaded_then_the_error_shows_the_allowed_form(write_map):
    path = write_map("id: Welcome_Leads\nname: x\ntriggers: [{form_submitted: {form: f}}]\nsteps: [end]\n", full=True)

    assert error_of(path) == (f"{path}: id: map id 'Welcome_Leads' must be lowercase letters, digits and '-', "
                              "at most 60 characters, e.g. welcome-leads")


def test_given_an_unknown_timezone_when_loaded_then_the_error_suggests_an_iana_name(write_map):
    path = write_map(HEADER + "timezone: Europe/Pari\nsteps: [end]\n", full=True)

    assert error_of(path) == (f"{path}: timezone: unknown timezone 'Europe/Pari' (did you mean Europe/Paris?); "
                              "use an IANA name such as Europe/Paris, America/New_York or UTC")


def test_given_a_trigger_with_a_misspelt_key_when_loaded_then_the_error_names_the_trigger_not_the_union(write_map):
    path = write_map("id: m\nname: M\ntriggers:\n  - tag_added: {tga: lead}\nsteps: [end]\n", full=True)

    assert error_of(path).splitlines()[0] == f"{path}: triggers[0].tag_added: missing required key 'tag'"


def test_given_an_unknown_trigger_when_loaded_then_the_error_lists_the_supported_ones(write_map):
    path = write_map("id: m\nname: M\ntriggers:\n  - form_submited: {form: x}\nsteps: [end]\n", full=True)

    assert error_of(path).startswith(f"{path}: triggers[0]: unknown trigger 'form_submited' (did you mean "
                                     "form_submitted?); supported triggers: form_submitted, contact_created, ")


def test_given_never_reenter_with_an_interval_when_loaded_then_the_error_says_to_remove_one(write_map):
    path = write_map(HEADER + "entry: {reenter: never, min_interval: {days: 1}}\nsteps: [end]\n", full=True)

    assert error_of(path) == (f"{path}: entry: min_interval spaces re-entries, but reenter is never; "
                              "remove one of them")


def test_given_an_unknown_reenter_rule_when_loaded_then_the_error_lists_the_rules(write_map):
    path = write_map(HEADER + "entry: {reenter: sometimes}\nsteps: [end]\n", full=True)

    assert error_of(path) == (f"{path}: entry.reenter: input should be 'never', 'after_exit' or 'always'; "
                              "got 'sometimes'")


# ---------------------------------------------------------------- steps


def test_given_a_misspelt_condition_when_loaded_then_the_error_names_file_step_path_and_the_keys_to_use(write_map):
    path = write_map("""\
        - id: tag-lead
          change_tags: {add: [lead]}
        - send_email: {template: welcome}
        - wait: {days: 2}
        - id: engaged
          if:
            any:
              - opened_emal: welcome-email
          then: [end]
        """)

    message = error_of(path)
    assert message.startswith(f"{path}: step 'engaged' (steps[3].if.any[0]): unknown condition key 'opened_emal' "
                              "(did you mean opened_email?); use one of all, any, not, has_tag, field, opened_email, ")
    assert message.endswith(", on_list, in_automation")


def test_given_a_condition_naming_an_email_step_that_does_not_exist_when_loaded_then_the_error_suggests_one(write_map):
    path = write_map("""\
        - id: welcome-email
          send_email: {template: welcome}
        - id: engaged
          if: {opened_email: welcome-emial}
          then: [end]
        """)

    assert error_of(path) == (f"{path}: step 'engaged' (steps[1].if): opened_email names email 'welcome-emial', which "
                              "is not a send_email step of this map (did you mean welcome-email?); send_email steps "
                              "with an id: welcome-email")


def test_given_a_condition_naming_an_email_of_another_map_when_loaded_then_it_is_accepted(write_map):
    path = write_map("""\
        - id: engaged
          if: {clicked_link: {email: welcome-email, map: welcome-leads}}
          then: [end]
        """)

    assert load_map(path).steps[0].if_.clicked_link.map == "welcome-leads"


def test_given_a_condition_with_two_keys_when_loaded_then_the_error_says_to_combine_them(write_map):
    path = write_map("""\
        - send_email: {template: welcome}
          only_if: {has_tag: vip, field: {name: age, gt: 45}}
        """)

    assert error_of(path) == (f"{path}: steps[0].only_if: a condition has exactly one key, this one has has_tag, "
                              "field; combine conditions with all: [...] or any: [...]")


def test_given_a_field_condition_without_operator_when_loaded_then_the_error_lists_the_operators(write_map):
    path = write_map("""\
        - id: senior
          if: {all: [{has_tag: vip}, {field: {name: age}}]}
          then: [end]
        """)

    message = error_of(path)

    assert message.startswith(f"{path}: step 'senior' (steps[0].if.all[1].field): field condition on 'age' needs "
                              "exactly one operator of eq, ne, gt")


def test_given_a_misspelt_step_type_when_loaded_then_the_error_suggests_the_type(write_map):
    path = write_map("""\
        - id: engaged
          if: {has_tag: engaged}
          then: [end]
          else:
            - send_emial: {template: nudge}
        """)

    from automaps.actions import ACTION_TYPES  # every registered action, in the registry's order

    assert error_of(path) == (f"{path}: steps[0].else[0]: unknown step type 'send_emial' (did you mean send_email?); "
                              f"use one of: {', '.join(ACTION_TYPES)}, wait, if, switch, go_to, fork, end, goal, "
                              "wait_until")


def test_given_add_to_automation_when_one_map_is_loaded_then_it_loads_and_returns_by_default(write_map):
    path = write_map("- add_to_automation: {map: onboarding}\n- add_to_automation: {map: onboarding, return: false}\n")

    first, second = load_map(path).steps

    assert (first.action, first.settings.map, first.settings.return_) == ("add_to_automation", "onboarding", True)
    assert second.settings.return_ is False


def test_given_a_step_doing_two_things_when_loaded_then_the_error_says_to_split_it(write_map):
    path = write_map("- id: both\n  send_email: {template: welcome}\n  wait: {days: 1}\n")

    assert error_of(path) == (f"{path}: step 'both' (steps[0]): a step does one thing, but this one has send_email "
                              "and wait; split it into 2 steps")


def test_given_a_misspelt_step_option_when_loaded_then_the_error_lists_what_the_step_has(write_map):
    path = write_map("- id: sms\n  send_sms: {text: hi}\n  only_iff: {has_tag: vip}\n")

    assert error_of(path) == (f"{path}: step 'sms' (steps[0]): unknown key 'only_iff' in a send_sms step (did you "
                              "mean only_if?); a send_sms step has: id, when, only_if, send_sms")


def test_given_action_settings_without_a_required_key_when_loaded_then_the_error_names_the_key(write_map):
    path = write_map("- end\n- id: hi\n  send_sms: {sender_id: Shop}\n")

    assert f"{path}: step 'hi' (steps[1].send_sms): missing required key 'text'" in error_of(path)


def test_given_action_settings_that_do_nothing_when_loaded_then_the_actions_own_message_is_shown(write_map):
    path = write_map("- change_tags: {}\n")

    assert error_of(path) == f"{path}: steps[0].change_tags: change_tags needs at least one tag under add or remove"


def test_given_an_empty_then_when_loaded_then_the_error_says_it_needs_a_step(write_map):
    path = write_map("- id: engaged\n  if: {has_tag: engaged}\n  then: []\n")

    assert error_of(path) == f"{path}: step 'engaged' (steps[0].then): needs at least 1 step; it has 0"


def test_given_a_fork_with_one_branch_when_loaded_then_the_error_asks_for_two(write_map):
    path = write_map("- fork:\n    - [end]\n")

    assert error_of(path) == f"{path}: steps[0].fork: needs at least 2 branches; it has 1"


def test_given_an_unquoted_time_of_day_when_loaded_then_the_error_says_to_quote_it(write_map):
    path = write_map("- wait: {days: 1, at: 9:30}\n")

    assert error_of(path) == (f'{path}: steps[0].wait.at: write the time of day in quotes, e.g. at: "09:30" '
                              "(YAML reads an unquoted 9:30 as a number)")


def test_given_a_date_time_without_timezone_when_loaded_then_the_error_asks_for_one(write_map):
    path = write_map("- wait: {until: 2026-12-24 09:00:00}\n")

    assert error_of(path) == (f"{path}: steps[0].wait.until: add a timezone to this date-time, e.g. "
                              "2026-03-01T09:00:00Z or 2026-03-01T10:00:00+01:00")


@pytest.mark.parametrize(("wait", "message"), [
    ("{days: 1, until: 2026-12-24T09:00:00Z}",
     "a wait takes one of a delay, a date-time (until) or until_field; got a delay and a date-time"),
    ("{days: 1, delay: {days: 1}}", "give the delay once: delay: {hours: 4} or hours: 4, not both"),
    ("{days: 1, offset: {hours: -1}}",
     "offset and yearly only apply to until_field (e.g. until_field: webinar_at, offset: {hours: -1})"),
    ("{days: 1, yearly: true}",
     "offset and yearly only apply to until_field (e.g. until_field: webinar_at, offset: {hours: -1})"),
    ("{days: 1, timezone: contact}",
     "timezone applies to at, between, weekdays and dates read from until_field; add one or remove timezone"),
    ("{until: 2026-12-24T09:00:00Z, at: '09:00'}",
     "until is an exact date-time; drop at, between, weekdays and timezone, or use a delay instead"),
    ("{days: -1}", "a wait cannot be negative; to be before a date use until_field with an offset"),
    ("{days: 400}", "a delay can last at most 365 days (the limit of one execution)"),
    ("{timezone: contact}", "say what to wait for: a delay (days: 2), until (a date-time), until_field (a date field), "
                            'at ("09:00"), between (["09:00", "17:00"]) or weekdays'),
    ("{weekdays: [mon, mon]}", "weekdays lists a day twice"),
    ("{at: '09:00', between: ['09:00', '17:00']}", "use at (one time of day) or between (a window), not both"),
    ("{between: ['09:00', '09:00']}", 'a window needs two different times, e.g. between: ["09:00", "17:00"]'),
    ("{days: 2, if_past: skip}", "if_past applies to a date (until, or until_field without yearly); a delay, a time "
                                 "of day or a yearly date is never past; remove if_past"),
])
def test_given_an_inconsistent_wait_when_loaded_then_the_error_says_what_to_change(write_map, wait, message):
    path = write_map(f"- id: pause\n  wait: {wait}\n")

    assert error_of(path) == f"{path}: step 'pause' (steps[0].wait): {message}"


def test_given_a_window_that_is_not_two_times_when_loaded_then_the_error_shows_the_form(write_map):
    path = write_map("- wait: {between: ['09:00']}\n")

    assert error_of(path) == (f'{path}: steps[0].wait.between: between is a window of two times of day, in quotes: '
                              'between: ["09:00", "17:00"]')


def test_given_a_window_with_an_unquoted_time_when_loaded_then_the_error_says_to_quote_it(write_map):
    path = write_map("- wait: {between: [9:00, '17:00']}\n")

    assert error_of(path) == (f'{path}: steps[0].wait.between[0]: write the time of day in quotes, e.g. at: "09:30" '
                              "(YAML reads an unquoted 9:30 as a number)")


def test_given_when_with_both_delay_and_at_when_loaded_then_the_error_asks_for_one(write_map):
    path = write_map("- send_email: {template: welcome}\n  when: {delay: {hours: 1}, at: 2026-12-24T09:00:00Z}\n")

    assert error_of(path) == (f"{path}: steps[0].when: 'when' takes one of a delay, a date-time (until) or "
                              "until_field; got a delay and a date-time")


def test_given_an_empty_when_when_loaded_then_the_error_lists_the_forms(write_map):
    path = write_map("- send_email: {template: welcome}\n  when: {}\n")

    assert error_of(path) == (f"{path}: steps[0].when: say when to run: a delay (days: 2), until (a date-time), "
                              'until_field (a date field), at ("09:00"), between (["09:00", "17:00"]) or weekdays')


def test_given_when_at_a_date_time_without_timezone_when_loaded_then_the_error_asks_for_one(write_map):
    path = write_map("- send_email: {template: welcome}\n  when: {at: 2026-12-24 09:00:00}\n")

    assert error_of(path) == (f"{path}: steps[0].when: add a timezone to the date-time in at, e.g. "
                              "2026-03-01T09:00:00Z or 2026-03-01T10:00:00+01:00")


@pytest.mark.parametrize(("key", "timing", "read"), [
    ("wait", '{days: 2, at: "09:00"}', "'at' is"),
    ("when", '{between: ["09:00", "17:00"], weekdays: [mon, tue]}', "'between' and 'weekdays' are"),
])
def test_given_a_time_of_day_in_the_contacts_timezone_and_a_map_without_timezone_when_loaded_then_it_is_refused(
        write_map, key, timing, read):
    step = f"- id: nudge\n  {key}: {timing}\n" if key == "wait" else \
        f"- id: nudge\n  send_email: {{template: nudge}}\n  when: {timing}\n"
    path = write_map(step)

    assert error_of(path) == (f"{path}: step 'nudge' (steps[0].{key}): {read} read in the contact's timezone, but this "
                              "map has no timezone for contacts whose own is unknown; add one at the top of the map "
                              "(e.g. timezone: America/New_York), or give this step a fixed timezone (e.g. timezone: "
                              "Europe/Paris)")


def test_given_a_time_of_day_in_a_fixed_timezone_and_a_map_without_timezone_when_loaded_then_it_is_accepted(write_map):
    path = write_map('- wait: {days: 2, at: "09:00", timezone: Europe/Paris}\n')

    assert load_map(path).fallback_timezone is None


def test_given_a_wait_that_skips_when_past_inside_a_fork_when_loaded_then_it_is_refused(write_map):
    path = write_map("""\
        - fork:
            - - id: late
                wait: {until_field: webinar_at, if_past: skip}
            - - add_note: {text: hi}
        """)

    assert error_of(path) == (f"{path}: step 'late' (steps[0].fork[0][0].wait): if_past: skip on a wait leaves the "
                              "map, which a step in a fork branch cannot do; move the wait before the fork, or put "
                              "when: {..., if_past: skip} on the actions of the branch")


def test_given_a_negative_delay_when_loaded_then_the_error_asks_for_a_positive_duration(write_map):
    path = write_map("- send_email: {template: welcome}\n  when: {delay: {hours: -1}}\n")

    assert error_of(path) == f"{path}: steps[0].when.delay: must be a positive duration, e.g. {{hours: 4}}"


def test_given_a_step_id_with_spaces_when_loaded_then_the_error_shows_the_allowed_form(write_map):
    path = write_map("- id: Welcome email\n  send_email: {template: welcome}\n")

    assert error_of(path) == (f"{path}: steps[0].id: step id 'Welcome email' must start with a letter and use "
                              "lowercase letters, digits and '-', at most 40 characters, e.g. welcome-email")


def test_given_several_mistakes_when_loaded_then_each_gets_its_own_line(write_map):
    path = write_map("- send_email: {}\n- wait: {dayz: 2}\n")

    assert error_of(path).splitlines() == [
        f"{path}: steps[0].send_email: give either 'template: <name>' (a stored template) or an inline "
        "'subject' with 'html' and/or 'text'",
        f"{path}: steps[1].wait: unknown key 'dayz' (did you mean days?); remove it or correct its spelling",
    ]


# ---------------------------------------------------------------- the map as a whole


def test_given_two_steps_with_the_same_id_when_loaded_then_the_second_is_reported(write_map):
    path = write_map("- id: hello\n  send_email: {template: welcome}\n- id: hello\n  send_sms: {text: hi}\n")

    assert error_of(path) == (f"{path}: step 'hello' (steps[1]): step id 'hello' is already used by steps[0]; "
                              "give each step its own id")


def test_given_a_go_to_an_unknown_step_when_loaded_then_the_error_lists_the_ids(write_map):
    path = write_map("- id: welcome-email\n  send_email: {template: welcome}\n- go_to: welcome-emial\n")

    assert error_of(path) == (f"{path}: steps[1]: go_to 'welcome-emial': no step has this id (did you mean "
                              "welcome-email?); step ids in this map: welcome-email")


def test_given_a_go_to_into_a_fork_branch_when_loaded_then_the_error_says_branches_are_closed(write_map):
    path = write_map("""\
        - fork:
            - [{id: inside, add_note: {text: a}}]
            - [{add_note: {text: b}}]
        - go_to: inside
        """)

    assert error_of(path).startswith(f"{path}: steps[1]: go_to 'inside' jumps into or out of a fork branch")


def test_given_a_loop_inside_a_fork_branch_when_loaded_then_the_error_says_it_is_not_supported_yet(write_map):
    path = write_map("""\
        - fork:
            - [{id: top, add_note: {text: a}}, {wait: {days: 1}}, {go_to: top}]
            - [{add_note: {text: b}}]
        """)

    assert error_of(path) == (f"{path}: steps[0].fork[0][2]: go_to 'top' loops inside a fork branch, which is not "
                              "supported yet; move the loop out of the fork")


def test_given_end_inside_a_fork_branch_when_loaded_then_the_error_says_to_put_it_after_the_fork(write_map):
    path = write_map("- fork:\n    - [end]\n    - [{add_note: {text: b}}]\n")

    assert error_of(path) == (f"{path}: steps[0].fork[0][0]: end cannot be used inside a fork branch (a branch ends "
                              "when its steps run out); put end after the fork")


def test_given_a_step_after_end_that_nothing_jumps_to_when_loaded_then_it_is_reported_as_dead(write_map):
    path = write_map("- end\n- id: orphan\n  send_email: {template: welcome}\n")

    assert error_of(path) == (f"{path}: step 'orphan' (steps[1]): this step can never run: the step before it ends "
                              "the map or jumps away; remove it, or give it an id and go_to it")


def test_given_an_if_whose_branches_both_end_when_loaded_then_the_next_step_is_reported_as_dead(write_map):
    path = write_map("- if: {has_tag: a}\n  then: [end]\n  else: [end]\n- add_note: {text: never}\n")

    assert error_of(path).startswith(f"{path}: steps[1]: this step can never run")


def test_given_a_deeply_nested_step_without_ids_when_loaded_then_the_error_asks_for_an_id(write_map):
    nested = "- if: {has_tag: a}\n  then:\n"
    for depth in range(1, 8):
        nested += "  " * depth + "- if: {has_tag: a}\n" + "  " * depth + "  then:\n"
    nested += "  " * 8 + "- end\n"
    path = write_map(nested)

    assert "is too long; give this step, or a step around it, an id" in error_of(path)


def test_given_a_field_name_ending_in_dollar_path_when_loaded_then_the_error_asks_to_rename_it(write_map):
    path = write_map("- update_contact: {set: {'plan.$': '$.plan'}}\n")

    assert error_of(path) == (f"{path}: steps[0]: key 'plan.$' cannot end in '.$' (Step Functions reads such keys as "
                              "paths); rename it")


def test_given_two_files_with_the_same_map_id_when_the_directory_is_loaded_then_the_second_file_is_reported(write_map):
    first = write_map("- end\n", name="a.yaml")
    second = write_map("- end\n", name="b.yaml")

    with pytest.raises(MapError) as caught:
        load_maps(first.parent)

    assert str(caught.value) == (f"{second}: id: map id 'test-map' is already used by {first}; "
                                 "give each map its own id")


def test_given_mistakes_in_several_files_when_the_directory_is_loaded_then_all_are_reported(write_map):
    first = write_map("- wait: {}\n", name="a.yaml")
    second = write_map("- go_to: nowhere\n", name="b.yaml")

    with pytest.raises(MapError) as caught:
        load_maps(first.parent)

    lines = str(caught.value).splitlines()
    assert list(dict.fromkeys(line.split(":")[0] for line in lines)) == [str(first), str(second)]


def test_given_no_such_directory_when_loaded_then_the_error_names_it(tmp_path):
    with pytest.raises(MapError, match="no such directory of maps"):
        load_maps(tmp_path / "nope")


def test_given_a_condition_on_dates_in_the_contacts_timezone_and_no_map_timezone_when_loaded_then_it_asks_for_one(
        write_map):
    path = write_map("""\
        - id: weekend
          if: {current_date: {weekdays: [sat, sun]}}
          then: [end]
        """)

    assert error_of(path) == (f"{path}: step 'weekend' (steps[0].if): this condition reads dates or times of day in "
                              "the contact's timezone, but this map has no timezone for contacts whose own is unknown; "
                              "add one at the top of the map (e.g. timezone: America/New_York), or give the condition "
                              "a fixed timezone (e.g. timezone: Europe/Paris)")


def test_given_a_condition_with_a_fixed_timezone_when_loaded_then_no_map_timezone_is_needed(write_map):
    path = write_map("""\
        - id: office-hours
          if: {current_time: {between: ["09:00", "17:00"], timezone: Europe/Paris}}
          then: [end]
        """)

    assert load_map(path).steps[0].if_.current_time.timezone == "Europe/Paris"


# ---------------------------------------------------------------- goals, waits for events and returns in forks


@pytest.mark.parametrize(("step", "says"), [
    ("{id: bought, goal: {event: {kind: purchase.made}}}",
     "step 'bought' (steps[0].fork[1][0]): goals cannot be inside a fork branch: reaching a goal moves the whole "
     "contact, and a branch is only part of their run; put the goal before or after the fork"),
    ("{id: cart, wait_until: {event: {kind: purchase.made}, timeout: {hours: 2}}}",
     "step 'cart' (steps[0].fork[1][0]): wait_until cannot be inside a fork branch: the event that ends it moves "
     "the whole contact, and a branch is only part of their run; put the wait_until before or after the fork "
     "(a wait: with a delay or date is fine in a branch)"),
])
def test_given_a_goal_or_wait_until_in_a_fork_branch_when_loaded_then_the_error_says_to_move_it_out(
        write_map, step, says):
    path = write_map(f"- fork:\n    - [{{add_note: {{text: a}}}}]\n    - [{step}]\n")

    assert error_of(path) == f"{path}: {says}"


def test_given_a_goal_in_an_if_inside_a_fork_when_loaded_then_it_is_refused_too(write_map):
    path = write_map("""\
        - fork:
            - [{add_note: {text: a}}]
            - - if: {has_tag: vip}
                then: [{goal: {condition: {has_tag: customer}}}]
        """)

    assert error_of(path).startswith(f"{path}: steps[0].fork[1][0].then[0]: goals cannot be inside a fork branch")


@pytest.mark.parametrize(("step", "action"), [
    ("{add_to_automation: {map: onboarding}}", "add_to_automation"),
    ("{add_to_automation: {map: onboarding, return: true}}", "add_to_automation"),
    ("{add_to_sequence: {sequence: nurture}}", "add_to_sequence"),
])
def test_given_a_returning_add_in_a_fork_branch_when_loaded_then_the_error_gives_the_seeds_rule(
        write_map, step, action):
    path = write_map(f"- fork:\n    - [{{add_note: {{text: a}}}}]\n    - [{step}]\n")

    assert error_of(path) == (
        f"{path}: steps[0].fork[1][0]: {action} with return: true (the default) cannot be inside a fork branch: the "
        "contact would wait for the other map while the fork waits for the branch; to go on at once as well, keep "
        f"the fork before it and write return: false in the branch, or put the {action} after the fork")


def test_given_a_fork_with_return_false_in_a_branch_and_goals_around_it_when_loaded_then_it_loads(write_map):
    path = write_map("""\
        - id: bought
          goal: {event: {kind: purchase.made}}
        - fork:
            - [{add_to_automation: {map: onboarding, return: false}}, {add_to_sequence: {sequence: s, return: false}}]
            - [{wait: {days: 1}}, {send_email: {template: nudge}}]
        - id: cart
          wait_until: {event: {kind: purchase.made}, timeout: {days: 1}}
        """)

    assert [step.kind for step in load_map(path).steps] == ["goal", "fork", "wait_until"]


def test_given_two_map_goals_with_one_id_when_loaded_then_the_second_is_reported(write_map):
    path = write_map(HEADER + "goals:\n  - {id: bought, event: {kind: purchase.made}}\n"
                              "  - {id: bought, condition: {has_tag: customer}}\nsteps: [end]\n", full=True)

    assert error_of(path) == (f"{path}: goals[1]: goal id 'bought' is already used by goals[0]; "
                              "give each goal its own id")


def test_given_a_map_goal_with_the_id_of_a_step_when_loaded_then_the_error_names_the_step(write_map):
    path = write_map(HEADER + "goals: [{id: bought, event: {kind: purchase.made}}]\n"
                              "steps:\n  - {id: bought, goal: {condition: {has_tag: customer}}}\n", full=True)

    assert error_of(path) == (f"{path}: goals[0]: goal id 'bought' is also the id of step steps[0]; "
                              "give the goal its own id")


# ---------------------------------------------------------------- maps that name each other (load_maps)


def map_file(write_map, map_id: str, steps: str, *, kind: str = "map", triggers: str = "[{form_submitted: {form: f}}]"):
    """GIVEN the file <map_id>.yaml in the maps directory."""
    head = f"id: {map_id}\nname: {map_id}\n" + (f"kind: {kind}\n" if kind != "map" else f"triggers: {triggers}\n")
    return write_map(head + "steps:\n" + steps, full=True, name=f"{map_id}.yaml")


def directory_error(path) -> str:
    with pytest.raises(MapError) as caught:
        load_maps(path.parent)
    return str(caught.value)


def test_given_maps_that_add_remove_pause_and_start_each_other_when_the_directory_is_loaded_then_all_load(write_map):
    caller = map_file(write_map, "caller", """\
  - {id: hand-over, add_to_automation: {map: onboarding}}
  - {pause_automation: {map: onboarding}}
  - {unpause_automation: {map: onboarding}}
  - {remove_from_automation: {map: onboarding}}
  - {add_to_sequence: {sequence: nurture, return: false}}
  - {pause_sequence: {sequence: nurture}}
  - {unpause_sequence: {sequence: nurture}}
  - {remove_from_sequence: {sequence: nurture}}
  - {start_follow_up: {follow_up: calls}}
  - {stop_follow_up: {follow_up: calls}}
""")
    map_file(write_map, "onboarding", "  - {add_note: {text: hi}}\n", triggers="[{added_to_automation: {from: caller}}]")
    map_file(write_map, "nurture", "  - {add_note: {text: hi}}\n", kind="sequence")
    map_file(write_map, "calls", "  - {add_note: {text: call}}\n", kind="follow_up")

    maps = load_maps(caller.parent)

    assert [map_.id for map_ in maps] == ["caller", "calls", "nurture", "onboarding"]


def test_given_a_step_naming_a_map_that_is_not_loaded_when_the_directory_is_loaded_then_it_suggests_the_right_one(
        write_map):
    caller = map_file(write_map, "caller", "  - {id: hand-over, add_to_automation: {map: onbording}}\n")
    map_file(write_map, "onboarding", "  - {add_note: {text: hi}}\n", triggers="[{added_to_automation: {}}]")

    assert directory_error(caller) == (
        f"{caller}: step 'hand-over' (steps[0].add_to_automation.map): add_to_automation names map 'onbording', "
        "which is not among the maps loaded (did you mean onboarding?); maps of kind map here: onboarding")


def test_given_a_sequence_action_and_no_sequence_when_the_directory_is_loaded_then_it_says_there_is_none(write_map):
    caller = map_file(write_map, "caller", "  - {remove_from_sequence: {sequence: nurture}}\n")

    assert directory_error(caller) == (
        f"{caller}: steps[0].remove_from_sequence.sequence: remove_from_sequence names map 'nurture', which is not "
        "among the maps loaded; there is no map of kind sequence")


@pytest.mark.parametrize(("step", "where", "other", "says"), [
    ("{add_to_automation: {map: other, return: false}}", "add_to_automation.map", "sequence",
     "add_to_automation names map 'other' ({other}), which is of kind sequence; add_to_automation takes a map of "
     "kind map (for a sequence, use add_to_sequence and its siblings)"),
    ("{pause_sequence: {sequence: other}}", "pause_sequence.sequence", "map",
     "pause_sequence names map 'other' ({other}), which is of kind map; pause_sequence takes a map of kind "
     "sequence (for a map, use add_to_automation and its siblings)"),
    ("{start_follow_up: {follow_up: other}}", "start_follow_up.follow_up", "sequence",
     "start_follow_up names map 'other' ({other}), which is of kind sequence; start_follow_up takes a map of kind "
     "follow_up (for a sequence, use add_to_sequence and its siblings)"),
])
def test_given_a_step_naming_a_map_of_the_wrong_kind_when_the_directory_is_loaded_then_it_names_the_right_action(
        write_map, step, where, other, says):
    caller = map_file(write_map, "caller", f"  - {step}\n")
    other_file = map_file(write_map, "other", "  - {add_note: {text: hi}}\n", kind=other,
                          triggers="[{added_to_automation: {}}]")

    assert directory_error(caller) == f"{caller}: steps[0].{where}: " + says.format(other=other_file)


def test_given_add_to_automation_to_a_map_without_an_added_to_automation_trigger_when_loaded_then_it_says_to_add_one(
        write_map):
    caller = map_file(write_map, "caller", "  - {id: hand-over, add_to_automation: {map: onboarding}}\n")
    other = map_file(write_map, "onboarding", "  - {add_note: {text: hi}}\n", triggers="[{tag_added: {tag: customer}}]")

    assert directory_error(caller) == (
        f"{caller}: step 'hand-over' (steps[0].add_to_automation.map): add_to_automation names map 'onboarding' "
        f"({other}), which has no added_to_automation trigger, so no map can add contacts to it; add "
        "`- added_to_automation: {}` to its triggers")


def test_given_add_to_automation_to_a_map_that_takes_contacts_only_from_another_map_when_loaded_then_it_is_refused(
        write_map):
    caller = map_file(write_map, "caller", "  - {add_to_automation: {map: onboarding}}\n")
    other = map_file(write_map, "onboarding", "  - {add_note: {text: hi}}\n",
                     triggers="[{added_to_automation: {from: shop}}]")

    assert directory_error(caller) == (
        f"{caller}: steps[0].add_to_automation.map: add_to_automation names map 'onboarding' ({other}), whose "
        "added_to_automation triggers do not take contacts added by 'caller'; add "
        "`- added_to_automation: {from: caller}` to its triggers")


def test_given_a_map_that_pauses_itself_when_the_directory_is_loaded_then_it_is_refused(write_map):
    caller = map_file(write_map, "caller", "  - {id: hold, pause_automation: {map: caller}}\n")

    assert directory_error(caller) == (
        f"{caller}: step 'hold' (steps[0].pause_automation.map): pause_automation names this map itself ('caller'); "
        "a map can only move its contacts on other maps")


def test_given_problems_in_several_maps_naming_others_when_loaded_then_all_are_reported_in_file_order(write_map):
    first = map_file(write_map, "a-map", "  - {add_to_automation: {map: nowhere}}\n")
    second = map_file(write_map, "b-map", "  - {stop_follow_up: {follow_up: a-map}}\n")

    lines = directory_error(first).splitlines()

    assert [line.split(":")[0] for line in lines] == [str(first), str(second)]
    assert "stop_follow_up names map 'a-map'" in lines[1] and "which is of kind map" in lines[1]
