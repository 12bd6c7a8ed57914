"""Form posts (issue 8): a contact without email is identified by phone; a post cannot silently
replace a known contact's email or phone; a caught bot's answer is a real answer's twin; a double
click is one submission, a later identical post a new one that the entry rule admits or refuses;
form types are strict. Through the real handler (functions/public_api), on moto."""

from __future__ import annotations

import json
import threading

import pytest
from automaps import aws as aws_clients
from automaps.store.contacts import ContactStore
from automaps.store.content import ContentStore
from automaps.journeys.enrollment import EntryRule, MapRecord, Trigger, register, release

from functions.send_email import app as send_email
from functions.send_sms import app as send_sms
from tests.actions.sending import shipped_template, task_event
from tests.fuzz.endpoints import Endpoints, as_json, deploy_forms, table_digest

PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
CALLBACK_FORM = {"id": "callback", "fields": [{"name": "phone", "type": "phone", "required": True},
                                              {"name": "first_name"}], "honeypot": "website"}


@pytest.fixture
def posts(aws, clock, lambda_context) -> Endpoints:
    """GIVEN the shipped forms and a phone-only form ("callback") are deployed."""
    deploy_forms()
    ContentStore().put("FORM", "callback", CALLBACK_FORM)
    return Endpoints(lambda_context)


def a_map(map_id: str, form: str, reenter: str = "after_exit") -> str:
    """GIVEN a map started by the form, with the entry rule ``reenter``."""
    arn = aws_clients.client("stepfunctions").create_state_machine(
        name=f"automaps-{map_id}", definition=json.dumps(PASS_MACHINE),
        roleArn="arn:aws:iam::123456789012:role/automaps")["stateMachineArn"]
    register(MapRecord(id=map_id, state_machine_arn=arn, version="v1", triggers=[Trigger(type="form_submitted",
                                                                                          key=form)],
                       entry=EntryRule(reenter=reenter)))  # type: ignore[arg-type]
    return arn


def executions(arn: str) -> list[dict]:
    return aws_clients.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]


def headers(response: dict) -> dict:
    """Powertools answers in the request's style: single or multi-value headers."""
    return response.get("headers") or response["multiValueHeaders"]


def kinds(contact_id: str) -> list[str]:
    return [h.kind for h in ContactStore().history(contact_id)]


# ------------------------------------------------------------------ contacts without email


def test_given_a_form_without_email_when_a_phone_is_posted_then_the_contact_is_stored_by_its_e164_phone(posts):
    response = posts.form(json.dumps({"phone": "+1 (415) 555-0134", "first_name": "Pat"}), form_id="callback")

    assert response["statusCode"] == 202
    contact = ContactStore().find_by_phone("+14155550134")
    assert contact is not None and contact.email is None
    assert contact.fields == {"phone": "+14155550134", "first_name": "Pat"}
    assert kinds(contact.id)[:2] == ["contact.created", "form.submitted"]


def test_given_a_phone_contact_when_the_same_phone_is_posted_again_then_it_is_the_same_contact(posts):
    posts.form(json.dumps({"phone": "+14155550134", "first_name": "Pat"}), form_id="callback")
    posts.form(json.dumps({"phone": "+1 415 555 0134", "first_name": "Patricia"}), form_id="callback")

    profiles = aws_clients.client("dynamodb").scan(
        TableName="automaps-ContactsTable", FilterExpression="sk = :s",
        ExpressionAttributeValues={":s": {"S": "PROFILE"}})["Items"]
    assert len(profiles) == 1
    assert ContactStore().find_by_phone("+14155550134").fields["first_name"] == "Patricia"


def test_given_twenty_concurrent_posts_of_one_phone_then_there_is_exactly_one_contact(posts):
    responses: list[dict] = []
    threads = [threading.Thread(target=lambda i=i: responses.append(posts.form(
        json.dumps({"phone": "+442079460958", "first_name": f"P{i}"}), form_id="callback"))) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(r["statusCode"] for r in responses) == [202] * 20
    profiles = aws_clients.client("dynamodb").scan(
        TableName="automaps-ContactsTable", FilterExpression="sk = :s",
        ExpressionAttributeValues={":s": {"S": "PROFILE"}})["Items"]
    assert len(profiles) == 1


def test_given_a_post_with_neither_email_nor_phone_then_400_names_both_and_nothing_is_stored(posts):
    ContentStore().put("FORM", "either", {"id": "either", "fields": [
        {"name": "email", "type": "email"}, {"name": "phone", "type": "phone"}, {"name": "first_name"}]})
    before = table_digest()

    response = posts.form(json.dumps({"first_name": "Nobody"}), form_id="either")

    assert response["statusCode"] == 400
    assert {e["field"] for e in as_json(response)["errors"]} == {"email", "phone"}
    assert table_digest() == before


def test_given_a_form_definition_with_neither_email_nor_phone_then_it_is_refused():
    from automaps.intake.forms import FormDefinition

    with pytest.raises(ValueError, match="an 'email' or a 'phone' field is required"):
        FormDefinition.model_validate({"id": "anon", "fields": [{"name": "first_name"}]})


def test_given_a_phone_contact_when_it_later_posts_its_email_then_the_email_is_added_to_that_contact(posts):
    posts.form(json.dumps({"phone": "+14155550134", "first_name": "Pat"}), form_id="callback")

    posts.form(json.dumps({"email": "pat@example.com", "phone": "+14155550134"}))

    by_phone, by_email = ContactStore().find_by_phone("+14155550134"), ContactStore().find_by_email("pat@example.com")
    assert by_phone is not None and by_email is not None and by_phone.id == by_email.id


def test_given_contacts_without_email_or_without_phone_when_a_map_emails_and_texts_then_each_action_skips_saying_why(
        posts, lambda_context):
    shipped_template("welcome")
    posts.form(json.dumps({"phone": "+14155550134", "first_name": "Pat"}), form_id="callback")
    posts.form(json.dumps({"email": "sam@example.com", "first_name": "Sam"}))
    phone_only = ContactStore().find_by_phone("+14155550134")
    email_only = ContactStore().find_by_email("sam@example.com")

    emailed = send_email.lambda_handler(task_event("send_email.json", phone_only), lambda_context)
    texted = send_sms.lambda_handler(task_event("send_sms.json", email_only), lambda_context)

    assert (emailed["outcome"], emailed["reason"]) == ("skipped", "the contact has no email address")
    assert (texted["outcome"], texted["reason"]) == ("skipped", "the contact has no phone number")
    assert "step.skipped" in kinds(phone_only.id) and "step.skipped" in kinds(email_only.id)


# ------------------------------------------------------------------ overwrite policy


def test_given_a_known_contact_when_an_anonymous_post_carries_another_phone_then_it_is_refused_and_recorded(posts):
    posts.form(json.dumps({"email": "jane@example.com", "phone": "+14155550134", "first_name": "Jane"}))

    response = posts.form(json.dumps({"email": "jane@example.com", "phone": "+442079460958", "first_name": "J."}))

    assert response["statusCode"] == 202
    jane = ContactStore().find_by_email("jane@example.com")
    assert jane.fields["phone"] == "+14155550134"        # not replaced
    assert jane.fields["first_name"] == "J."             # other fields may be updated
    [refused] = ContactStore().history(jane.id, ["contact.update_refused"])
    assert refused.detail["fields"] == ["phone"] and refused.detail["form"] == "newsletter"
    assert "+44" not in json.dumps(refused.detail)        # the refused value is not on the history


def test_given_a_known_contact_without_a_phone_when_a_post_carries_one_then_it_is_filled(posts):
    posts.form(json.dumps({"email": "jane@example.com", "first_name": "Jane"}))

    posts.form(json.dumps({"email": "jane@example.com", "phone": "+14155550134"}))

    jane = ContactStore().find_by_email("jane@example.com")
    assert jane.fields["phone"] == "+14155550134"
    assert ContactStore().history(jane.id, ["contact.update_refused"]) == []


def test_given_a_form_whose_overwrite_lists_only_phone_then_other_known_fields_are_kept(posts):
    form = {"id": "update-phone", "overwrite": ["phone"], "fields": [
        {"name": "email", "type": "email", "required": True}, {"name": "phone", "type": "phone"},
        {"name": "first_name"}]}
    ContentStore().put("FORM", "update-phone", form)
    posts.form(json.dumps({"email": "jane@example.com", "phone": "+14155550134", "first_name": "Jane"}))

    posts.form(json.dumps({"email": "jane@example.com", "phone": "+442079460958", "first_name": "X"}),
               form_id="update-phone")

    jane = ContactStore().find_by_email("jane@example.com")
    assert (jane.fields["phone"], jane.fields["first_name"]) == ("+442079460958", "Jane")
    [refused] = ContactStore().history(jane.id, ["contact.update_refused"])
    assert refused.detail["fields"] == ["first_name"]


# ------------------------------------------------------------------ honeypot


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_given_a_bot_fills_the_honeypot_then_its_answer_has_the_real_answers_shape_and_nothing_is_stored(
        posts, content_type):
    a_map("welcome-leads", "newsletter")
    if content_type == "application/json":
        real_body = json.dumps({"email": "human@example.com", "first_name": "Hu"})
        bot_body = json.dumps({"email": "bot@example.com", "first_name": "Bo", "website": "http://spam"})
    else:
        real_body, bot_body = "email=human%40example.com&first_name=Hu", "email=bot%40example.com&website=x"
    real = posts.form(real_body, content_type)
    before = table_digest()

    bot = posts.form(bot_body, content_type)

    assert table_digest() == before
    assert bot["statusCode"] == real["statusCode"] == 202
    assert headers(bot) == headers(real)
    real_answer, bot_answer = as_json(real), as_json(bot)
    assert set(bot_answer) == set(real_answer) == {"status", "submission_id", "enrollments"}
    assert bot_answer["status"] == real_answer["status"] == "accepted"
    assert bot_answer["enrollments"] == real_answer["enrollments"] == [{"map_id": "welcome-leads",
                                                                          "outcome": "queued"}]
    assert len(bot_answer["submission_id"]) == len(real_answer["submission_id"])
    assert bot_answer["submission_id"].startswith("s_") and bot_answer["submission_id"] != real_answer["submission_id"]


def test_given_a_bot_in_a_browser_fills_the_honeypot_then_it_is_redirected_like_a_human(posts):
    human = posts.form("email=human%40example.com", "application/x-www-form-urlencoded",
                       headers={"Accept": "text/html"})
    bot = posts.form("email=bot%40example.com&website=x", "application/x-www-form-urlencoded",
                     headers={"Accept": "text/html"})

    assert bot["statusCode"] == human["statusCode"] == 303
    assert headers(bot)["Location"] == headers(human)["Location"]


# ------------------------------------------------------------------ repeats


def test_given_a_double_click_when_the_same_values_arrive_twice_then_it_is_one_submission(posts, clock):
    arn = a_map("welcome-leads", "newsletter")
    body = json.dumps({"email": "jane@example.com", "first_name": "Jane"})

    first = as_json(posts.form(body))
    clock.advance(seconds=2)
    second = as_json(posts.form(body))

    assert first["submission_id"] == second["submission_id"]
    assert len(executions(arn)) == 1


def test_given_an_idempotency_key_when_a_client_retries_an_hour_later_then_it_is_the_same_submission(posts, clock):
    a_map("welcome-leads", "newsletter")
    body = json.dumps({"email": "jane@example.com"})

    first = as_json(posts.form(body, headers={"Idempotency-Key": "order-7"}))
    clock.advance(hours=1)
    again = as_json(posts.form(body, headers={"Idempotency-Key": "order-7"}))

    assert first["submission_id"] == again["submission_id"]


def test_given_the_contact_exited_an_after_exit_map_when_it_posts_identical_values_later_then_it_enrolls_again(
        posts, clock):
    arn = a_map("welcome-leads", "newsletter", reenter="after_exit")
    body = json.dumps({"email": "jane@example.com", "first_name": "Jane"})
    first = as_json(posts.form(body))
    jane = ContactStore().find_by_email("jane@example.com")
    (enrollment,) = ContactStore().enrollments(jane.id, "welcome-leads")
    release(jane.id, "welcome-leads", enrollment.enrollment_id)   # GIVEN her run exited
    clock.advance(minutes=11)

    again = as_json(posts.form(body))

    assert again["submission_id"] != first["submission_id"]
    assert len(executions(arn)) == 2
    assert kinds(jane.id).count("map.enrolled") == 2


def test_given_a_never_map_when_the_contact_posts_identical_values_later_then_the_refusal_is_recorded(posts, clock):
    arn = a_map("one-time", "newsletter", reenter="never")
    body = json.dumps({"email": "jane@example.com", "first_name": "Jane"})
    posts.form(body)
    clock.advance(minutes=11)

    posts.form(body)

    jane = ContactStore().find_by_email("jane@example.com")
    assert len(executions(arn)) == 1
    [skipped] = ContactStore().history(jane.id, ["map.enroll_skipped"])
    assert "once" in skipped.detail["reason"]


# ------------------------------------------------------------------ strict types


@pytest.mark.parametrize(("body", "field", "says"), [
    ({"age": True}, "age", "must be a number"),
    ({"age": "twelve"}, "age", "must be a number"),
    ({"age": [12]}, "age", "must be a number"),
    ({"first_name": "a\u0000b"}, "first_name", "U+0000"),
    ({"first_name": "line\nbreak"}, "first_name", "U+000A"),
    ({"first_name": 12}, "first_name", "valid string"),
    ({"timezone": "\u0000"}, "timezone", "U+0000"),
    ({"phone": "12"}, "phone", "phone number"),
])
def test_given_a_value_of_the_wrong_type_when_posted_then_400_names_the_field_and_nothing_is_stored(
        posts, body, field, says):
    before = table_digest()

    response = posts.form(json.dumps({"email": "strict@example.com", **body}))

    assert response["statusCode"] == 400
    errors = {e["field"]: e["error"] for e in as_json(response)["errors"]}
    assert says in errors[field]
    assert table_digest() == before


def test_given_a_number_as_text_when_posted_then_it_is_accepted_as_a_number(posts):
    posts.form(json.dumps({"email": "num@example.com", "age": "12"}))

    assert ContactStore().find_by_email("num@example.com").fields["age"] == 12


def test_given_a_multiline_field_when_a_message_has_line_breaks_then_they_are_kept(posts):
    text = "Too expensive.\r\nThanks\tanyway"

    response = posts.form(json.dumps({"email": "m@example.com", "reason": text}), form_id="cancel-membership")

    assert response["statusCode"] == 202
    assert ContactStore().find_by_email("m@example.com").fields["reason"] == text


def test_given_sqs_refuses_the_enrollment_when_a_form_is_posted_then_503_says_retry_and_the_retry_is_one_submission(
        posts, clock):
    arn = a_map("welcome-leads", "newsletter")
    sqs = aws_clients.client("sqs")
    body = json.dumps({"email": "jane@example.com", "first_name": "Jane"})

    def refuse(**_: object) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")

    sqs.meta.events.register("before-call.sqs.SendMessage", refuse)
    try:
        refused = posts.form(body)
    finally:
        sqs.meta.events.unregister("before-call.sqs.SendMessage", refuse)
    clock.advance(seconds=30)
    retried = posts.form(body)

    assert refused["statusCode"] == 503
    assert headers(refused)["Retry-After"] in ("5", ["5"])
    assert retried["statusCode"] == 202
    assert len(executions(arn)) == 1


def test_given_a_phone_stored_before_e164_when_a_post_carries_the_same_number_then_nothing_is_refused(posts):
    ContactStore().upsert_by_email("old@example.com", {"phone": "+1 415 555 0134"})   # GIVEN an older profile

    posts.form(json.dumps({"email": "old@example.com", "phone": "+1-415-555-0134", "first_name": "Old"}))

    old = ContactStore().find_by_email("old@example.com")
    assert ContactStore().history(old.id, ["contact.update_refused"]) == []
    assert old.fields["first_name"] == "Old"
