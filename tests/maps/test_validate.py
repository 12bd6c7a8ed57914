"""`automaps validate`: every problem in the maps, named by file, step and field, all at once,
before anything is deployed; `automaps compile` refuses on the same problems.

The fixtures: tests/maps/fixtures/validate/project is a small repository (maps/good.yaml uses
every kind of name its content/ declares, correctly); each file of .../mistakes is one kind of
mistake, added to a copy of that project.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from automaps_local.cli import main
from tests.maps.conftest import FIXTURES, ROOT

PROJECT = FIXTURES / "validate" / "project"
MISTAKES = FIXTURES / "validate" / "mistakes"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """GIVEN a copy of the fixture project, as the working directory."""
    shutil.copytree(PROJECT, tmp_path / "project")
    monkeypatch.chdir(tmp_path / "project")
    return tmp_path / "project"


def with_mistake(project: Path, name: str) -> Path:
    """GIVEN the project with the map file ``name`` of the mistakes added to maps/."""
    return Path(shutil.copy(MISTAKES / name, project / "maps" / name))


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["validate", *args])
    return code, capsys.readouterr().out.splitlines()


# ---------------------------------------------------------------- a sound project


def test_given_maps_that_name_only_what_exists_when_validated_then_it_says_ok(project, capsys):
    code, out = validate(capsys)

    assert (code, out) == (0, ["1 map OK"])


def test_given_the_example_maps_when_validated_against_the_repositorys_content_then_they_are_ok(capsys):
    code, out = validate(capsys, "--maps", str(ROOT / "maps"), "--content", str(ROOT / "content"))

    assert (code, out) == (0, [f"{len(list((ROOT / 'maps').glob('*.yaml')))} maps OK"])


def test_given_the_journey_test_maps_when_validated_then_only_the_deliberate_mistake_is_reported(capsys):
    """seq-caller-wrong names a follow-up where a sequence belongs on purpose (its journey test
    shows the step failing at run time); the journey tests push their own forms and templates,
    so there is no content folder beside them."""
    code, out = validate(capsys, "--maps", str(ROOT / "tests" / "e2e" / "maps"))

    assert code == 2
    assert [line.split(":")[0] for line in out] == [str(ROOT / "tests" / "e2e" / "maps" / "seq-caller-wrong.yaml")]


# ---------------------------------------------------------------- all problems at once


def test_given_two_mistakes_in_one_step_when_validated_then_each_gets_its_line(project, capsys):
    with_mistake(project, "two-in-one-step.yaml")

    code, out = validate(capsys)

    assert code == 2
    assert out == [
        "maps/two-in-one-step.yaml: step 'welcome' (steps[0].send_email): unknown key 'subjcet' (did you mean "
        "subject?); remove it or correct its spelling",
        "maps/two-in-one-step.yaml: step 'welcome' (steps[0].send_email.template): no email template "
        "'welcom-email' in content/templates/; did you mean 'welcome-email'?",
    ]


def test_given_misspelt_keys_beside_a_step_in_its_settings_and_in_a_condition_when_validated_then_all_are_named(
        project, capsys):
    with_mistake(project, "unknown-keys.yaml")

    code, out = validate(capsys)

    assert code == 2
    assert out == [
        "maps/unknown-keys.yaml: step 'welcome' (steps[0].send_email): unknown key 'templat' (did you mean "
        "template?); remove it or correct its spelling",
        "maps/unknown-keys.yaml: step 'welcome' (steps[0]): unknown key 'only_iff' in a send_email step (did you "
        "mean only_if?); a send_email step has: id, when, only_if, send_email",
        "maps/unknown-keys.yaml: step 'welcome' (steps[0]): unknown key 'whenn' in a send_email step (did you "
        "mean when?); a send_email step has: id, when, only_if, send_email",
        "maps/unknown-keys.yaml: step 'vip' (steps[1].if.field): unknown key 'gtt' (did you mean gt?); remove it "
        "or correct its spelling",
        "maps/unknown-keys.yaml: steps[2]: go_to 'welcom': no step has this id (did you mean welcome?); step ids "
        "in this map: vip, welcome",
    ]


# ---------------------------------------------------------------- names the content must hold


def test_given_names_of_forms_segments_templates_connections_routers_and_lists_that_do_not_exist_when_validated_then_each_is_named(
        project, capsys):
    with_mistake(project, "names.yaml")

    code, out = validate(capsys)

    assert code == 2
    assert out == [
        "maps/names.yaml: triggers[0].form_submitted.form: no form 'signpu' in content/forms/; did you mean "
        "'signup'?",
        "maps/names.yaml: triggers[1].segment_entered.segment: no segment 'vipp' in content/segments/; did you "
        "mean 'vip'?",
        "maps/names.yaml: step 'welcome' (steps[0].send_email.template): no email template 'welcome-emial' in "
        "content/templates/; did you mean 'welcome-email'?",
        "maps/names.yaml: step 'welcome' (steps[0].send_email.connection): no connection 'ofice' in "
        "content/connections/; did you mean 'office'?",
        "maps/names.yaml: step 'route' (steps[1].add_to_lead_router.router): no lead router 'salse' in "
        "content/routers/; did you mean 'sales'?",
        "maps/names.yaml: step 'hook' (steps[2].send_webhook.connection): connection 'office' is of type smtp; "
        "send_webhook takes a webhook connection",
        "maps/names.yaml: step 'unlist' (steps[4].remove_from_list.list): no map adds contacts to list "
        "'newsleter' and content/lists/ does not declare it; did you mean 'newsletter'?",
    ]


def test_given_a_template_name_far_from_any_when_validated_then_the_templates_there_are_listed(project, capsys):
    path = with_mistake(project, "two-in-one-step.yaml")
    path.write_text(path.read_text().replace("welcom-email, subjcet: Hello", "goodbye"))

    code, out = validate(capsys, "maps/two-in-one-step.yaml")

    assert (code, out) == (2, [
        "maps/two-in-one-step.yaml: step 'welcome' (steps[0].send_email.template): no email template 'goodbye' "
        "in content/templates/; the templates there: plan-news, welcome-email"])


# ---------------------------------------------------------------- texts: Jinja syntax and merge fields


def test_given_jinja_syntax_errors_in_settings_of_several_steps_when_validated_then_each_setting_is_named(
        project, capsys):
    with_mistake(project, "jinja.yaml")

    code, out = validate(capsys)

    assert code == 2
    assert out == [
        "maps/jinja.yaml: step 'hello' (steps[0].send_sms.text): Jinja syntax error, unexpected '}'",
        "maps/jinja.yaml: step 'note' (steps[1].add_note.text): Jinja syntax error, Unexpected end of template. "
        "Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs "
        "to be closed is 'if'.",
        "maps/jinja.yaml: step 'hook' (steps[2].send_webhook.json.name): Jinja syntax error, No filter named "
        "'uper'.",
    ]


def test_given_a_template_with_a_syntax_error_when_validated_then_its_file_part_and_line_are_named(project, capsys):
    shutil.copy(MISTAKES / "templates" / "broken.yaml", project / "content" / "templates" / "broken.yaml")

    code, out = validate(capsys)

    assert (code, out) == (2, [
        "content/templates/broken.yaml: html: Jinja syntax error, line 2: Unexpected end of template. Jinja was "
        "looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed "
        "is 'if'."])


def test_given_merge_fields_nothing_provides_when_validated_then_each_is_named_and_guarded_uses_pass(project, capsys):
    """Provided: a standard contact field, a field of a form in content/forms/, a field an
    update_contact of any map sets (good.yaml sets plan, which plan-news uses); the event's keys
    of the map's triggers (a form's: form, fields.<its fields>, ...). Fine anywhere: a use under
    | default(...), an if on the same field, a test."""
    with_mistake(project, "merge-fields.yaml")

    code, out = validate(capsys)

    assert code == 2
    assert out == [
        "maps/merge-fields.yaml: step 'hello' (steps[0].send_sms.text): {{ contact.nickname }}: no form in "
        "content/forms/ has a field 'nickname', no map's update_contact sets it, and it is not a standard contact "
        "field; add it to a form, or write {{ contact.nickname | default('...') }}",
        "maps/merge-fields.yaml: step 'hello' (steps[0].send_sms.text): {{ event.cart_id }}: no trigger of this "
        "map (form_submitted) carries 'cart_id'; the event has: at, fields, form, submission_id, type; or write "
        "{{ event.cart_id | default('...') }}",
        "maps/merge-fields.yaml: step 'hello' (steps[0].send_sms.text): {{ offer.code }}: none of this map's "
        "triggers carries an offer (only an event: trigger on an ingested event may); write "
        "{{ offer.code | default('...') }}",
        "maps/merge-fields.yaml: step 'form-field' (steps[2].add_note.text): {{ event.fields.agee }}: the forms "
        "that start this map have no field 'agee' (did you mean age?); their fields: age, email, first_name",
    ]


def test_given_a_template_using_a_field_nothing_provides_when_validated_then_the_step_sending_it_is_named(
        project, capsys):
    (project / "maps" / "good.yaml").write_text(
        (project / "maps" / "good.yaml").read_text().replace("update_contact: {set: {plan: gold}}",
                                                             "update_contact: {set: {tier: gold}}"))

    code, out = validate(capsys)

    assert code == 2
    assert out == [
        "maps/good.yaml: step 'plan-news' (steps[2].send_email.template): email template 'plan-news' (html) "
        "line 1: {{ contact.plan }}: no form in content/forms/ has a field 'plan', no map's update_contact sets "
        "it, and it is not a standard contact field; add it to a form, or write {{ contact.plan | default('...') }}",
        "maps/good.yaml: steps[8].add_note.text: {{ contact.plan }}: no form in content/forms/ has a field 'plan', "
        "no map's update_contact sets it, and it is not a standard contact field; add it to a form, or write "
        "{{ contact.plan | default('...') }}",
    ]


# ---------------------------------------------------------------- values: types and YAML's readings


def test_given_words_compared_as_numbers_when_validated_then_the_operator_and_the_forms_field_type_are_named(
        project, capsys):
    with_mistake(project, "types.yaml")

    code, out = validate(capsys)

    assert code == 2
    assert out == [
        "maps/types.yaml: step 'older' (steps[0].if.field.gt): field 'age' is a number "
        "(content/forms/signup.yaml), so gt takes a number, e.g. gt: 40; got 'forty'",
        "maps/types.yaml: step 'scored' (steps[1].if.field.lt): lt compares numbers (or ISO dates such as "
        "2026-01-31); got 'high', which is neither: write a number, e.g. lt: 40",
        "maps/types.yaml: step 'exact' (steps[2].only_if.field.eq): field 'age' is a number "
        "(content/forms/signup.yaml), so eq takes a number, e.g. eq: 40; got 'forty'",
    ]


def test_given_times_and_words_yaml_reads_oddly_when_validated_then_each_says_to_quote_it(project, capsys):
    with_mistake(project, "yaml-reads-oddly.yaml")

    code, out = validate(capsys)

    assert code == 2
    assert out == [
        "maps/yaml-reads-oddly.yaml: step 'morning' (steps[0].wait.at): write the time of day in quotes, e.g. "
        "at: \"09:30\" (YAML reads an unquoted 9:30 as a number)",
        "maps/yaml-reads-oddly.yaml: step 'time-text' (steps[1].send_sms.text): input should be a valid string; "
        "got 630; YAML reads the unquoted 10:30 as the number 630 (base 60); write it in quotes: '10:30'",
        "maps/yaml-reads-oddly.yaml: step 'answer' (steps[2].update_contact.set.answer): YAML reads the unquoted "
        "no as the boolean false; write it in quotes: 'no' (or false, if you mean the boolean)",
        "maps/yaml-reads-oddly.yaml: step 'answer' (steps[2].update_contact.set.code): YAML reads the unquoted "
        "012 as the octal number 10; write it in quotes: '012'",
        "maps/yaml-reads-oddly.yaml: step 'dated' (steps[3].add_note.text): input should be a valid string; "
        "YAML reads the unquoted 2026-12-25 as a date; write it in quotes: '2026-12-25'",
        "maps/yaml-reads-oddly.yaml: step 'tagged' (steps[4].change_tags.add[0]): input should be a valid string; "
        "got True; YAML reads the unquoted yes as the boolean true; write it in quotes: 'yes' (or true, if you "
        "mean the boolean)",
    ]


# ---------------------------------------------------------------- output and compile


def test_given_files_named_when_validated_then_only_their_problems_are_shown_with_their_folder_as_context(
        project, capsys):
    """The other maps of the folder are read (good.yaml's update_contact sets plan, which
    merge-fields.yaml's plan-news uses), but only the file named is reported on."""
    with_mistake(project, "types.yaml")
    path = with_mistake(project, "two-in-one-step.yaml")

    code, out = validate(capsys, str(path))

    assert code == 2 and len(out) == 2 and all(line.startswith(f"{path}: ") for line in out)


def test_given_json_wanted_when_validated_then_each_problem_has_file_step_where_and_message(project, capsys):
    with_mistake(project, "two-in-one-step.yaml")

    code, out = validate(capsys, "--format", "json")

    answer = json.loads("\n".join(out))
    assert code == 2 and answer["ok"] is False and answer["maps"] == 2
    assert answer["problems"][1] == {
        "file": "maps/two-in-one-step.yaml",
        "step": "welcome",
        "where": "steps[0].send_email.template",
        "message": "no email template 'welcom-email' in content/templates/; did you mean 'welcome-email'?",
        "line": "maps/two-in-one-step.yaml: step 'welcome' (steps[0].send_email.template): no email template "
                "'welcom-email' in content/templates/; did you mean 'welcome-email'?",
    }


def test_given_no_content_folder_when_validated_then_the_maps_own_checks_run_and_it_says_what_was_not_checked(
        project, capsys):
    shutil.rmtree(project / "content")

    code = main(["validate"])

    out, err = capsys.readouterr()
    assert (code, out) == (0, "1 map OK\n")
    assert "note: no content folder at content: templates, forms, segments" in err


def test_given_a_map_with_mistakes_when_compiled_then_every_problem_is_printed_and_nothing_is_written(
        project, capsys):
    with_mistake(project, "names.yaml")

    code = main(["compile", "--maps", "maps", "--out", "statemachines"])

    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 7
    assert err[0] == "maps/names.yaml: triggers[0].form_submitted.form: no form 'signpu' in content/forms/; did you mean 'signup'?"
    assert not (project / "statemachines").exists()


def test_given_a_sound_project_when_compiled_then_it_compiles(project, capsys):
    code = main(["compile", "--maps", "maps", "--out", "statemachines"])

    assert code == 0 and (project / "statemachines" / "good.asl.json").is_file()


def test_given_content_files_push_would_refuse_when_validated_then_each_field_is_named_and_maps_naming_them_are_not(
        project, capsys):
    """A form without an identity field or with another id, a router with an unknown strategy and
    no reps: named on their files, field by field; the map naming them is not wrong for it."""
    (project / "content" / "forms" / "signup.yaml").write_text(
        "id: sign-up\nfields: [{name: first_name}, {name: age, type: number}]\n")
    (project / "content" / "routers" / "sales.yaml").write_text("strategy: random\nreps: []\n")

    code, out = validate(capsys)

    assert (code, out) == (2, [
        "content/forms/signup.yaml: form 'sign-up': an 'email' or a 'phone' field is required (it identifies the "
        "contact)",
        "content/forms/signup.yaml: id: id 'sign-up' differs from the file name; rename one",
        "content/routers/sales.yaml: strategy: input should be 'round_robin', 'weighted' or 'first_available'",
        "content/routers/sales.yaml: reps: list should have at least 1 item after validation, not 0",
    ])


def test_given_keys_in_the_wrong_place_and_a_mistake_in_the_maps_own_keys_when_validated_then_all_are_named(
        project, capsys):
    with_mistake(project, "misplaced-keys.yaml")

    code, out = validate(capsys)

    assert code == 2
    assert out == [
        "maps/misplaced-keys.yaml: entry.reenter: input should be 'never', 'after_exit' or 'always'; got "
        "'sometimes'",
        "maps/misplaced-keys.yaml: step 'hello' (steps[0].send_sms): 'when' belongs to the step, not to its "
        "send_sms settings: write it one level out, beside send_sms:",
        "maps/misplaced-keys.yaml: step 'vip' (steps[1]): a key YAML reads as the boolean true: an unquoted on, "
        "off, yes or no is one; write the key in quotes (e.g. 'on': ...), or correct its spelling",
        "maps/misplaced-keys.yaml: steps[2]: go_to 'helo': no step has this id (did you mean hello?); step ids in "
        "this map: hello, vip",
    ]
