"""make_phone_call: call the contact and play a call script: say a message, pause, connect to
another number, hang up.

    make_phone_call:
      from: "+18885550100"
      script:
        - say: "Hi {{ contact.first_name }}, your order has shipped."
        - pause: 1
        - say: "Press nothing, we are connecting you to our team."
        - connect: "+14155550199"
      record: true
      connection: call-center

Spoken-only scripts go through AWS End User Messaging voice (SendVoiceMessage, SSML). Scripts
that ``connect`` to another number, and recorded calls, go through Amazon Connect
(StartOutboundVoiceContact on a ``connect`` connection; automaps.channels.voice). Merge fields
are rendered, then XML-escaped into the SSML. :func:`place_call` is shared with
``automaps test-call``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from automaps.channels import end_user_messaging, sms, voice
from automaps.journeys.steps import PermanentError, Skip, StepContext
from automaps.store.contacts import mask_phone

_STEP_FORMS = "say: <text>, pause: <seconds>, connect: <phone number>, or hang_up"


class Say(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    say: str = Field(min_length=1, max_length=3000)


class Pause(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    pause: float = Field(gt=0, le=10, description="seconds of silence (at most 10)")


class Connect(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    connect: str = Field(min_length=1, description="the number (or a merge expression) to transfer the call to")


CallStep = Say | Pause | Connect | Literal["hang_up"]


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "+18885550100",
                    "script": [
                        {"say": "Hi {{ contact.first_name }}, your order has shipped."},
                        {"pause": 1},
                        "hang_up",
                    ],
                }
            ]
        },
    )

    script: list[CallStep] = Field(
        min_length=1,
        max_length=50,
        description="what the call does, in order (1 to 50 steps): {say: text}, {pause: seconds}, {connect: number}, hang_up",
    )
    from_: str | None = Field(
        default=None,
        alias="from",
        min_length=1,
        max_length=256,
        description="the calling number (E.164) or End User Messaging origination identity",
    )
    to: str | None = Field(default=None, description="merge expression; defaults to the contact's phone")
    record: bool = Field(default=False, description="record the call (through Amazon Connect)")
    voice: str = Field(default="JOANNA", min_length=2, max_length=20, description="the Polly voice that speaks")
    connection: str | None = Field(
        default=None, min_length=1, description="a connect connection; needed to connect or record"
    )
    name: str | None = Field(default=None, max_length=512, description="Amazon Connect: the contact's name in Connect")
    description: str | None = Field(
        default=None, max_length=4096, description="Amazon Connect: the contact's description in Connect"
    )

    @field_validator("script", mode="before")
    @classmethod
    def _step_forms(cls, steps: Any) -> Any:
        for number, step in enumerate(steps if isinstance(steps, list) else [], start=1):
            fits = step == "hang_up" or (
                isinstance(step, dict) and len(step) == 1 and next(iter(step)) in ("say", "pause", "connect")
            )
            if not fits:
                raise ValueError(f"script step {number} is {step!r}; each step is one of: {_STEP_FORMS}")
        return steps

    @field_validator("voice")
    @classmethod
    def _voice_upper(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        kinds = [_kind(step) for step in self.script]
        if "hang_up" in kinds[:-1]:
            raise ValueError("hang_up ends the call: it can only be the last step of the script")
        if kinds.count("connect") > 1:
            raise ValueError("the script can connect to one number only")
        if "connect" in kinds and kinds[kinds.index("connect") + 1 :] not in ([], ["hang_up"]):
            raise ValueError("after connect the call is transferred: connect must be the last step")
        if "say" not in kinds and "connect" not in kinds:
            raise ValueError("the script neither says anything nor connects the call; add a say or connect step")
        if self.uses_connect and not self.connection:
            raise ValueError(
                "a script that connects to another number, or a recorded call, goes through "
                "Amazon Connect: set 'connection' to a connect connection "
                "(content/connections/<name>.yaml with type: connect)"
            )
        if not self.uses_connect and not self.from_:
            raise ValueError(
                "a spoken call goes through AWS End User Messaging voice: set 'from' to your "
                "calling number (E.164) or origination identity"
            )
        return self

    @property
    def uses_connect(self) -> bool:
        return self.record or any(_kind(step) == "connect" for step in self.script)


def _kind(step: CallStep) -> str:
    return step if isinstance(step, str) else next(iter(type(step).model_fields))


def run(ctx: StepContext, settings: Settings) -> dict[str, Any]:
    where = f"step {ctx.event.step_id!r}"
    if settings.to:
        written = ctx.render(settings.to, where=f"the 'to' of {where}").strip()
    else:
        written = str(ctx.contact.phone or "").strip()
    if not written:
        raise Skip("the contact has no phone number")
    if "voice" in ctx.contact.unsubscribed:
        raise Skip("the contact asked not to be called")
    country = ctx.contact.fields.get("country")
    to = sms.to_e164(written, country if isinstance(country, str) and len(country) == 2 else None)

    def call() -> dict[str, Any]:
        return place_call(
            settings,
            to=to,
            render=lambda text: ctx.render(text, where=f"the script of {where}"),
            client_token=ctx.event.idempotency_key,
            contact_id=ctx.contact.id,
        )

    # Amazon Connect's ClientToken makes a repeat of this visit's call the same call: replayable
    return ctx.once("call", call, kind="call.placed", replayable=settings.uses_connect)


def place_call(
    settings: Settings, *, to: str, render: Callable[[str], str], client_token: str, contact_id: str
) -> dict[str, Any]:
    """Render the script and place the call to ``to`` (E.164); returns what the history records.
    Raises rendering.MissingField before any call is placed."""
    parts: list[tuple[str, Any]] = []
    transfer: str | None = None
    for step in settings.script:
        if isinstance(step, Say):
            parts.append(("say", render(step.say)))
        elif isinstance(step, Pause):
            parts.append(("pause", step.pause))
        elif isinstance(step, Connect):
            transfer = sms.to_e164(render(step.connect).strip())
    spoken = voice.ssml(parts)
    if settings.uses_connect:
        connection = voice.load(settings.connection or "")
        attributes = {
            f"{voice.ATTRIBUTE_PREFIX}ssml": spoken,
            f"{voice.ATTRIBUTE_PREFIX}transfer_to": transfer or "",
            f"{voice.ATTRIBUTE_PREFIX}record": "true" if settings.record else "false",
            f"{voice.ATTRIBUTE_PREFIX}voice": settings.voice,
            f"{voice.ATTRIBUTE_PREFIX}contact_id": contact_id,
        }
        if len(spoken) > 32_000:
            raise PermanentError("the rendered call script is longer than Amazon Connect accepts (32,000 characters)")
        call_id = voice.start_outbound_call(
            connection,
            to=to,
            attributes=attributes,
            client_token=client_token,
            source=settings.from_,
            name=settings.name,
            description=settings.description,
        )
        provider = "connect"
    else:
        if len(spoken) > 6000:
            raise PermanentError(
                "the rendered call script is longer than End User Messaging voice accepts (6,000 characters of SSML)"
            )
        call_id = end_user_messaging.send_voice(
            to=to, ssml=spoken, origination_identity=settings.from_ or "", voice_id=settings.voice
        )
        provider = "end_user_messaging"
    return {
        "call_id": call_id,
        "provider": provider,
        "to": mask_phone(to),
        "record": settings.record,
        "transfer_to": mask_phone(transfer) if transfer else None,
        "steps": len(settings.script),
    }
