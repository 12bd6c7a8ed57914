"""ai_assistant: generate, edit or analyse text over the contact's data with a model on Amazon
Bedrock (the Converse API), and save the answer on a contact field.

The ``prompt`` (and the optional ``system`` prompt) are templates rendered with merge fields; a
missing field follows the map's ``missing_fields`` policy before anything is sent. The model's
text is saved to ``save_to`` (cut to ``max_chars``) and returned in the outcome detail
(``text``, cut to at most :data:`DETAIL_MAX_CHARS`). The history gets ``ai.generated`` with the
model, the token usage, the stop reason, the field and the length of the text, never the text.

Answers: a ``stopReason`` of ``guardrail_intervened`` or ``content_filtered`` is a recorded
failure; throttling, a model not ready or timing out, 5xx answers and read/connect timeouts are
transient (the state's Retry calls again); other refusals (validation, access denied, unknown
model) are recorded failures naming the model.

The Bedrock client has its own timeouts (:data:`CLIENT_CONFIG`): a read timeout of 60 s, and
no SDK retry (botocore would send the request again after a lost answer), so one visit waits a
bounded time. The call is an effect of the visit (``ctx.once``): a retry after a lost answer
records the step's outcome as unknown instead of generating (and paying for) it twice.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from automaps import aws
from automaps.journeys.steps import (
    OutcomeUnknown,
    PermanentError,
    Skip,
    StepContext,
    TransientError,
)

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 60
MAX_ATTEMPTS = 1  # botocore's total_max_attempts: no SDK retry (it would resend after a lost answer);
# the state's Retry runs the step again when Bedrock refused or could not be reached
MAX_OUTPUT_TOKENS = 4096
MAX_PROMPT_CHARS = 100_000
MAX_SAVED_CHARS = 100_000
DETAIL_MAX_CHARS = 2_000  # what the outcome detail (and so step.done) carries at most
REFUSED_STOP_REASONS = frozenset({"guardrail_intervened", "content_filtered"})
_TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelNotReadyException",
        "ModelTimeoutException",
        "InternalServerException",
    }
)
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# a model id (anthropic.claude-3-haiku-20240307-v1:0), a cross-region inference profile id
# (us.anthropic.claude-...), or the ARN of a foundation model or inference profile
_MODEL_ID = re.compile(
    r"^(?:[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+(?::[a-z0-9-]{1,63})*"
    r"|arn:aws(?:-[a-z-]+)?:bedrock:[a-z0-9-]{1,20}:(?:\d{12})?:(?:foundation-model|inference-profile)/"
    r"[A-Za-z0-9.:-]{1,200})$"
)


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "model_id": "anthropic.claude-3-haiku-20240307-v1:0",
                    "prompt": "Write one friendly sentence welcoming {{ contact.first_name | default('a new reader') }}.",
                    "save_to": "welcome_line",
                    "max_chars": 300,
                }
            ]
        },
    )

    model_id: str = Field(description="Bedrock model id, inference profile id or ARN")
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS, description="the request; merge fields allowed")
    system: str | None = Field(
        default=None,
        max_length=MAX_PROMPT_CHARS,
        description="instructions for the model (tone, format); merge fields allowed",
    )
    max_tokens: int = Field(default=512, ge=1, le=MAX_OUTPUT_TOKENS, description="the longest answer, in tokens")
    temperature: float = Field(default=0.5, ge=0, le=1, description="0 (focused) to 1 (varied)")
    save_to: str | None = Field(default=None, description="contact field the text is saved to")
    max_chars: int | None = Field(
        default=None, ge=1, le=MAX_SAVED_CHARS, description="cut the saved text to this many characters"
    )

    @field_validator("model_id")
    @classmethod
    def _model_id(cls, value: str) -> str:
        value = value.strip()
        if not _MODEL_ID.match(value):
            raise ValueError(
                f"{value!r} is not a Bedrock model: give a model id such as "
                "anthropic.claude-3-haiku-20240307-v1:0, an inference profile id such as "
                "us.anthropic.claude-3-haiku-20240307-v1:0, or a foundation-model or "
                "inference-profile ARN"
            )
        return value

    @field_validator("prompt", "system")
    @classmethod
    def _template(cls, value: str | None, info: Any) -> str | None:
        from automaps import rendering

        if value is not None:
            if not value.strip():
                raise ValueError(f"the {info.field_name} is empty; write what the model should do")
            rendering.compile_template(value, where=info.field_name)  # a syntax error names the line
        return value

    @field_validator("save_to")
    @classmethod
    def _save_to(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _FIELD.match(value):
            raise ValueError(f"save_to: {value!r} is not a contact field name (letters, digits, underscores)")
        if value == "email":
            raise ValueError("save_to may not be the contact's email; save the text to another field")
        return value


# ------------------------------------------------------------------ the Bedrock client

_lock = threading.Lock()
_client: tuple[Any, Any] | None = None  # (the automaps.aws DynamoDB client it was made with, bedrock-runtime)


def client_config() -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    )


def bedrock() -> Any:
    """The ``bedrock-runtime`` client with :func:`client_config`'s timeouts, made on first use.

    ``automaps.aws.client`` takes no Config, so this one is kept here and made again whenever
    ``automaps.aws`` hands out a new DynamoDB client (after ``aws.reset()``, e.g. a new moto),
    as the step runner's persistence layer does; the runner has made that client already.
    """
    global _client
    generation = aws.client("dynamodb")
    found = _client
    if found is not None and found[0] is generation:
        return found[1]
    with _lock:  # boto3's default session is not safe to create clients from many threads
        if _client is None or _client[0] is not generation:
            import boto3

            _client = (generation, boto3.client("bedrock-runtime", config=client_config()))
        return _client[1]


# ------------------------------------------------------------------ the action


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    step = f"step {ctx.event.step_id!r}"
    prompt = ctx.render(settings.prompt, where=f"the prompt of {step}")
    system = ctx.render(settings.system, where=f"the system prompt of {step}") if settings.system else None
    if not prompt.strip():
        raise Skip("the prompt is empty once merge fields are filled in")
    request: dict[str, Any] = {
        "modelId": settings.model_id,
        "messages": [{"role": "user", "content": [{"text": prompt}]}],
        "inferenceConfig": {"maxTokens": settings.max_tokens, "temperature": settings.temperature},
    }
    if system and system.strip():
        request["system"] = [{"text": system}]
    answer = ctx.once("bedrock", lambda: _converse(settings.model_id, request))

    usage = answer.get("usage") or {}
    stop_reason = answer.get("stopReason", "")
    generated = {
        "model_id": settings.model_id,
        "stop_reason": stop_reason,
        "input_tokens": usage.get("inputTokens", 0),
        "output_tokens": usage.get("outputTokens", 0),
        "total_tokens": usage.get("totalTokens", 0),
    }
    if stop_reason in REFUSED_STOP_REASONS:
        raise PermanentError(f"the model's answer was blocked ({stop_reason}); nothing was saved", generated)
    text = _text(answer).strip()
    if not text:
        raise PermanentError("the model answered with no text; nothing was saved", generated)
    kept = text[: settings.max_chars].rstrip() if settings.max_chars else text
    generated |= {"saved_to": settings.save_to, "chars": len(kept), "truncated": len(kept) < len(text)}
    ctx.once("ai.generated", lambda: generated, kind="ai.generated")  # once per visit, repaired on retry
    if settings.save_to:
        _save(ctx, settings.save_to, kept)
    return {**generated, "text": kept[:DETAIL_MAX_CHARS]}


def _converse(model_id: str, request: dict[str, Any]) -> dict[str, Any]:
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ParamValidationError,
        ReadTimeoutError,
    )

    try:
        return bedrock().converse(**request)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        reason = f"Bedrock answered {code or status} for model {model_id}{': ' + message if message else ''}"
        if code in _TRANSIENT_CODES or status >= 500 or status == 429:
            raise TransientError(reason) from None
        raise PermanentError(reason, {"model_id": model_id, "code": code, "status": status}) from None
    except (ConnectTimeoutError, EndpointConnectionError) as error:
        raise TransientError(f"Bedrock could not be reached for model {model_id}: {type(error).__name__}") from None
    except (ReadTimeoutError, ConnectionClosedError) as error:
        raise OutcomeUnknown(
            "bedrock",
            f"Bedrock may have generated for model {model_id} but its answer was lost ({type(error).__name__})",
        ) from None
    except ParamValidationError as error:
        raise PermanentError(f"the request to model {model_id} is not valid: {error}", {"model_id": model_id}) from None


def _text(answer: dict[str, Any]) -> str:
    content = ((answer.get("output") or {}).get("message") or {}).get("content") or []
    return "".join(block["text"] for block in content if isinstance(block.get("text"), str))


def _save(ctx: StepContext, field: str, text: str) -> None:
    """After the model has answered, a failure to save must not call it again."""
    from botocore.exceptions import BotoCoreError, ClientError

    from automaps.store.contacts import WriteConflict

    try:
        ctx.store.update_fields(ctx.contact.id, {field: text})
    except (ClientError, BotoCoreError, WriteConflict, ValueError) as error:
        raise PermanentError(
            f"the text was generated but could not be saved to {field}: {type(error).__name__}", {"saved_to": field}
        ) from None
