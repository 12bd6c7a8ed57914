"""ai_assistant: a prompt rendered over the contact's data, answered by a model on Amazon Bedrock
(Converse), the text saved on a contact field once per visit. moto has no bedrock-runtime:
botocore's Stubber checks every request against the service's real model and answers as
Bedrock does (an unexpected second call fails the test)."""

from __future__ import annotations

import pytest
from automaps.actions import ai_assistant
from automaps.actions.ai_assistant import Settings
from automaps.journeys.steps import TransientError
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber
from pydantic import ValidationError

from functions.ai_assistant import app
from tests.actions.conftest import event_for, kinds

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
PROMPT = ("Write a two-sentence welcome for Jane, who signed up through the newsletter form and "
          "chose the pro plan.")
SYSTEM = "You write short, friendly sales emails. Plain text, no subject line."
WELCOME = ("Welcome aboard, Jane! Your Pro plan is ready, and we will send your first guide "
           "to help you get the most out of it today.")


def converse_request(prompt: str = PROMPT, system: str | None = SYSTEM, max_tokens: int = 300,
                     temperature: float = 0.4, model: str = MODEL) -> dict:
    request = {"modelId": model, "messages": [{"role": "user", "content": [{"text": prompt}]}],
               "inferenceConfig": {"maxTokens": max_tokens, "temperature": temperature}}
    if system is not None:
        request["system"] = [{"text": system}]
    return request


def converse_answer(text: str | None = WELCOME, stop_reason: str = "end_turn", output_tokens: int = 31) -> dict:
    """What Converse answers (output.message.content[].text, stopReason, usage, metrics)."""
    content = [{"text": text}] if text is not None else []
    return {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop_reason,
            "usage": {"inputTokens": 48, "outputTokens": output_tokens, "totalTokens": 48 + output_tokens},
            "metrics": {"latencyMs": 812}}


@pytest.fixture
def bedrock(aws):
    """GIVEN Bedrock (the action's own bedrock-runtime client, stubbed)."""
    with Stubber(ai_assistant.bedrock()) as stub:
        yield stub


def call(event: dict, lambda_context) -> dict:
    return app.lambda_handler(event, lambda_context)


def step(contact, **settings) -> dict:
    event = event_for("ai_assistant", contact)
    return {**event, "settings": {**event["settings"], **settings}}


# ------------------------------------------------------------------ generating


def test_given_a_prompt_over_the_contacts_data_when_run_then_the_answer_is_saved_to_the_field(
        contact, store, bedrock, lambda_context):
    bedrock.add_response("converse", converse_answer(), expected_params=converse_request())

    result = call(event_for("ai_assistant", contact), lambda_context)

    bedrock.assert_no_pending_responses()
    assert result["outcome"] == "done"
    assert result["detail"]["text"] == WELCOME
    assert store.require(contact.id).fields["ai_intro"] == WELCOME
    [generated] = store.history(contact.id, ["ai.generated"])
    assert generated.detail == {"model_id": MODEL, "stop_reason": "end_turn", "input_tokens": 48,
                                "output_tokens": 31, "total_tokens": 79, "saved_to": "ai_intro",
                                "chars": len(WELCOME), "truncated": False}
    assert (generated.map_id, generated.step_id) == ("welcome-leads", "write-intro")
    assert WELCOME not in str(generated.detail)


def test_given_merge_fields_in_prompt_and_system_when_run_then_both_are_rendered_for_the_contact(
        contact, store, bedrock, lambda_context):
    bedrock.add_response("converse", converse_answer("Jane, 52, bounced: re-engage gently."),
                         expected_params=converse_request(
                             prompt="Summarise Jane (age 52, tags: cold, newsletter, last issue: bounced).",
                             system="Answer for the owner of the pro plan in one line.",
                             max_tokens=64, temperature=0.0, model="us.anthropic.claude-3-5-haiku-20241022-v1:0"))

    result = call(step(contact, model_id="us.anthropic.claude-3-5-haiku-20241022-v1:0", max_tokens=64,
                       temperature=0,
                       prompt="Summarise {{ contact.first_name }} (age {{ contact.age }}, tags: "
                              "{{ contact.tags | sort | join(', ') }}, last issue: {{ contact.cold_reason }}).",
                       system="Answer for the owner of the {{ event.fields.plan }} plan in one line.",
                       save_to="ai_summary"), lambda_context)

    bedrock.assert_no_pending_responses()
    assert result["outcome"] == "done"
    assert store.require(contact.id).fields["ai_summary"] == "Jane, 52, bounced: re-engage gently."


def test_given_no_system_prompt_and_no_field_when_run_then_the_text_is_only_returned(
        contact, store, bedrock, lambda_context):
    bedrock.add_response("converse", converse_answer("  Positive.\n"),
                         expected_params=converse_request(prompt="Is Jane's tone positive?", system=None,
                                                          max_tokens=512, temperature=0.5))

    event = event_for("ai_assistant", contact, settings={"model_id": MODEL, "prompt": "Is Jane's tone positive?"})
    result = call(event, lambda_context)

    assert result["outcome"] == "done"
    assert result["detail"]["text"] == "Positive."
    assert result["detail"]["saved_to"] is None
    assert "ai_intro" not in store.require(contact.id).fields


def test_given_max_chars_when_the_answer_is_longer_then_the_saved_text_is_cut(contact, store, bedrock,
                                                                              lambda_context):
    bedrock.add_response("converse", converse_answer(WELCOME, stop_reason="max_tokens"),
                         expected_params=converse_request())

    result = call(step(contact, max_chars=20), lambda_context)

    saved = store.require(contact.id).fields["ai_intro"]
    assert saved == WELCOME[:20].rstrip() == result["detail"]["text"]
    [generated] = store.history(contact.id, ["ai.generated"])
    assert (generated.detail["chars"], generated.detail["truncated"]) == (len(saved), True)
    assert generated.detail["stop_reason"] == "max_tokens"


def test_given_a_missing_merge_field_when_run_then_the_step_is_skipped_and_bedrock_not_called(
        contact, store, bedrock, lambda_context):
    result = call(step(contact, prompt="Write to {{ contact.first_name }} about {{ contact.company }}."),
                  lambda_context)

    bedrock.assert_no_pending_responses()
    assert result["outcome"] == "skipped"
    assert result["reason"] == "missing field: contact.company"
    assert "ai.generated" not in kinds(store, contact)


def test_given_a_missing_merge_field_and_the_fail_policy_when_run_then_the_step_fails(contact, bedrock,
                                                                                      lambda_context):
    event = {**step(contact, system="Sign as {{ contact.owner_name }}."), "missing_fields": "fail"}

    result = call(event, lambda_context)

    assert (result["outcome"], result["reason"]) == ("failed", "missing field: contact.owner_name")


# ------------------------------------------------------------------ Bedrock's refusals and failures


@pytest.mark.parametrize("stop_reason", ["guardrail_intervened", "content_filtered"])
def test_given_the_answer_is_blocked_when_run_then_the_failure_is_recorded_and_nothing_saved(
        contact, store, bedrock, lambda_context, stop_reason):
    bedrock.add_response("converse", converse_answer("Sorry, the model cannot answer that.", stop_reason),
                         expected_params=converse_request())

    result = call(event_for("ai_assistant", contact), lambda_context)

    assert result["outcome"] == "failed"
    assert result["reason"] == f"the model's answer was blocked ({stop_reason}); nothing was saved"
    assert result["detail"]["stop_reason"] == stop_reason
    assert "ai_intro" not in store.require(contact.id).fields
    assert "ai.generated" not in kinds(store, contact)
    [failed] = store.history(contact.id, ["step.failed"])
    assert failed.detail["model_id"] == MODEL


def test_given_an_empty_answer_when_run_then_the_step_fails(contact, store, bedrock, lambda_context):
    bedrock.add_response("converse", converse_answer(None), expected_params=converse_request())

    result = call(event_for("ai_assistant", contact), lambda_context)

    assert (result["outcome"], result["reason"]) == ("failed", "the model answered with no text; nothing was saved")


@pytest.mark.parametrize(("code", "status"), [("ThrottlingException", 429), ("ServiceUnavailableException", 503),
                                              ("ModelNotReadyException", 429), ("InternalServerException", 500),
                                              ("ModelTimeoutException", 408)])
def test_given_bedrock_is_busy_when_run_then_the_state_retries_and_a_later_try_succeeds(
        contact, store, bedrock, lambda_context, code, status):
    bedrock.add_client_error("converse", service_error_code=code, service_message="Too many requests, please wait",
                             http_status_code=status, expected_params=converse_request())
    bedrock.add_response("converse", converse_answer(), expected_params=converse_request())

    with pytest.raises(TransientError, match=f"{code} for model {MODEL}"):
        call(event_for("ai_assistant", contact), lambda_context)
    assert "ai.generated" not in kinds(store, contact)
    result = call(event_for("ai_assistant", contact), lambda_context)  # the state's Retry: the same event

    bedrock.assert_no_pending_responses()
    assert result["outcome"] == "done"
    assert store.require(contact.id).fields["ai_intro"] == WELCOME


@pytest.mark.parametrize(("code", "status", "message"), [
    ("ValidationException", 400, "The provided model identifier is invalid."),
    ("AccessDeniedException", 403, "You don't have access to the model with the specified model ID."),
    ("ResourceNotFoundException", 404, "Model not found"),
])
def test_given_bedrock_refuses_the_request_when_run_then_the_failure_names_the_model_without_retry(
        contact, store, bedrock, lambda_context, code, status, message):
    bedrock.add_client_error("converse", service_error_code=code, service_message=message,
                             http_status_code=status, expected_params=converse_request())

    result = call(event_for("ai_assistant", contact), lambda_context)

    assert result["outcome"] == "failed"
    assert result["reason"] == f"Bedrock answered {code} for model {MODEL}: {message}"
    assert result["detail"]["model_id"] == MODEL
    assert kinds(store, contact)[-1] == "step.failed"


def test_given_bedrock_does_not_answer_in_time_when_run_then_the_outcome_is_unknown_and_not_asked_again(
        contact, store, aws, lambda_context):
    client = ai_assistant.bedrock()
    attempts: list[str] = []

    def time_out(request, **_):  # botocore's hook before a request goes on the wire
        attempts.append(request.url)
        raise ReadTimeoutError(endpoint_url=request.url)

    client.meta.events.register_first("before-send.bedrock-runtime.Converse", time_out)
    try:
        result = call(event_for("ai_assistant", contact), lambda_context)
    finally:
        client.meta.events.unregister("before-send.bedrock-runtime.Converse", time_out)

    assert result["outcome"] == "unknown"
    assert result["reason"].startswith(f"Bedrock may have generated for model {MODEL} but its answer was lost "
                                       "(ReadTimeoutError)")
    assert len(attempts) == ai_assistant.MAX_ATTEMPTS == 1  # no SDK retry of a request that may have run
    assert attempts[0].endswith(f"/model/{MODEL.replace(':', '%3A')}/converse")
    assert "ai.generated" not in kinds(store, contact)


def test_the_bedrock_client_has_bounded_timeouts_and_retries(aws):
    config = ai_assistant.bedrock().meta.config

    assert config.read_timeout <= 60
    assert config.connect_timeout <= 10
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}  # no SDK retry: it would resend
    assert ai_assistant.bedrock() is ai_assistant.bedrock()


# ------------------------------------------------------------------ once per visit


def test_given_the_same_task_event_twice_when_run_then_bedrock_is_called_once(contact, store, bedrock,
                                                                              lambda_context):
    bedrock.add_response("converse", converse_answer(), expected_params=converse_request())
    event = event_for("ai_assistant", contact)

    first = call(event, lambda_context)
    second = call(event, lambda_context)  # a Stubber answers once: a second call would raise

    bedrock.assert_no_pending_responses()
    assert first == second
    assert kinds(store, contact).count("ai.generated") == 1


# ------------------------------------------------------------------ settings


@pytest.mark.parametrize(("bad", "message"), [
    ({"prompt": "Hi"}, "model_id"),
    ({"model_id": "claude", "prompt": "Hi"}, "is not a Bedrock model"),
    ({"model_id": "arn:aws:bedrock:us-east-1:123456789012:custom-model/x", "prompt": "Hi"}, "is not a Bedrock model"),
    ({"model_id": MODEL}, "prompt"),
    ({"model_id": MODEL, "prompt": "   "}, "the prompt is empty"),
    ({"model_id": MODEL, "prompt": "Hi {{ contact.first_name "}, "prompt"),
    ({"model_id": MODEL, "prompt": "Hi", "system": "{% if %}"}, "system"),
    ({"model_id": MODEL, "prompt": "Hi", "max_tokens": 0}, "greater than or equal to 1"),
    ({"model_id": MODEL, "prompt": "Hi", "max_tokens": 4097}, "less than or equal to 4096"),
    ({"model_id": MODEL, "prompt": "Hi", "temperature": 1.5}, "less than or equal to 1"),
    ({"model_id": MODEL, "prompt": "Hi", "temperature": -0.1}, "greater than or equal to 0"),
    ({"model_id": MODEL, "prompt": "Hi", "save_to": "email"}, "may not be the contact's email"),
    ({"model_id": MODEL, "prompt": "Hi", "save_to": "ai intro"}, "is not a contact field name"),
    ({"model_id": MODEL, "prompt": "Hi", "max_chars": 0}, "greater than or equal to 1"),
    ({"model_id": MODEL, "prompt": "Hi", "top_p": 0.9}, "Extra inputs are not permitted"),
])
def test_given_bad_settings_when_validated_then_they_are_rejected(bad, message):
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate(bad)


@pytest.mark.parametrize("model_id", [
    MODEL, "us.anthropic.claude-3-5-haiku-20241022-v1:0", "amazon.nova-micro-v1:0", "mistral.mistral-7b-instruct-v0:2",
    "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1",
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b-instruct-v1:0",
])
def test_given_model_ids_and_arns_the_function_may_invoke_when_validated_then_they_pass(model_id):
    assert Settings.model_validate({"model_id": model_id, "prompt": "Hi"}).model_id == model_id


def test_given_bad_settings_in_a_task_event_when_run_then_the_step_fails_without_calling_bedrock(
        contact, bedrock, lambda_context):
    result = call(step(contact, save_to="email"), lambda_context)

    assert result["outcome"] == "failed"
    assert "invalid settings: save_to" in result["reason"]
