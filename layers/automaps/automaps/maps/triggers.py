"""Triggers: what starts a map (``triggers:`` in a map file, docs/map-format.md).

Each trigger type is a model here with its ``kind``; ``TRIGGER_MODELS`` lists them and
``Trigger`` is the validated union a map's ``triggers`` holds. What a trigger listens to is
matched against history entries by ``automaps.journeys.triggers``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from automaps.timing import suggest

_STRICT = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
MAP_ID_PATTERN = r"[a-z0-9][a-z0-9-]{0,59}"


def _form_id(value: str) -> str:
    import re

    if not re.fullmatch(MAP_ID_PATTERN, value):
        raise ValueError(
            f"form id {value!r} must be lowercase letters, digits and '-', at most 60 characters, e.g. newsletter"
        )
    return value


FormId = Annotated[str, AfterValidator(_form_id)]


class FormSubmitted(BaseModel):
    model_config = _STRICT
    form: FormId


class FormSubmittedTrigger(BaseModel):
    """``form_submitted: {form: newsletter}``: enrolls whoever submits that form."""

    model_config = _STRICT
    kind: ClassVar[str] = "form_submitted"
    form_submitted: FormSubmitted

    @property
    def key(self) -> str:
        """What the trigger listens to: the form id."""
        return self.form_submitted.form


TRIGGER_MODELS: dict[str, type[BaseModel]] = {"form_submitted": FormSubmittedTrigger}


def _trigger_shape(value: Any) -> Any:
    supported = ", ".join(TRIGGER_MODELS)
    if isinstance(value, BaseModel):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(
            f"a trigger is a mapping with one key, such as {{form_submitted: {{form: newsletter}}}}; supported triggers: {supported}"
        )
    key = str(next(iter(value)))
    if key not in TRIGGER_MODELS:
        raise ValueError(
            f"unknown trigger {key!r}{suggest(key, tuple(TRIGGER_MODELS))}; supported triggers: {supported}"
        )
    return value


Trigger = Annotated[FormSubmittedTrigger, BeforeValidator(_trigger_shape)]


class TriggerKey(NamedTuple):
    """A trigger reduced to what enrollment looks up: its type and key (e.g. the form id)."""

    type: str
    key: str
