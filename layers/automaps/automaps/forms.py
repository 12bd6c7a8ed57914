"""Form submissions: parse what a browser or a script posts, validate it against the form's
definition, store the contact, record the event and enroll the contact in matching maps.

Nothing is stored unless the whole submission is valid; a filled honeypot is answered like a
success and stores nothing, so bots learn nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (AfterValidator, BaseModel, ConfigDict, EmailStr, Field, HttpUrl, ValidationError,
                      create_model)

from automaps import clock
from automaps.content import ContentStore
from automaps.enrollment import EnrollResult, Trigger, enroll_matching
from automaps.errors import field_errors

FIELD_NAME = r"^[a-z][a-z0-9_]{0,63}$"
_PHONE = re.compile(r"^\+?[0-9 ().-]{7,24}$")


class FormField(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=FIELD_NAME)
    type: Literal["email", "text", "phone", "number", "date", "datetime", "timezone", "checkbox"] = "text"
    required: bool = False
    max_length: int = Field(default=500, ge=1, le=10000)


class FormDefinition(BaseModel):
    """A form as stored in the content table (``content/forms/<id>.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9-]{1,60}$")
    fields: list[FormField] = Field(min_length=1)
    honeypot: str | None = Field(default="website", description="a hidden field humans leave empty")
    thank_you_url: HttpUrl | None = None
    identify_visitor: bool = Field(default=False, description=(
        "add am_c=<visitor token> to the thank-you URL, so the page snippet there knows the contact "
        "(set it when the thank-you page is yours and carries the snippet)"))
    tags: list[str] = Field(default_factory=list, description="tags added to the contact on submit")

    def model_post_init(self, _: Any) -> None:
        names = [f.name for f in self.fields]
        if "email" not in names:
            raise ValueError(f"form {self.id!r}: an 'email' field is required (it identifies the contact)")
        if len(set(names)) != len(names):
            raise ValueError(f"form {self.id!r}: field names repeat")


class UnknownForm(LookupError):
    def __init__(self, form_id: str) -> None:
        super().__init__(f"no form named {form_id!r}")
        self.form_id = form_id


class InvalidSubmission(ValueError):
    """The submission does not fit the form; ``errors`` name each field and what is wrong."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['error']}" for e in errors))
        self.errors = errors


class Submission(BaseModel):
    form_id: str
    outcome: Literal["accepted", "ignored"]
    submission_id: str | None = None
    contact_id: str | None = None
    created: bool = False
    enrollments: list[EnrollResult] = Field(default_factory=list)
    thank_you_url: str | None = None


def load_form(form_id: str) -> FormDefinition:
    body = ContentStore().get("FORM", form_id)
    if body is None:
        raise UnknownForm(form_id)
    return FormDefinition.model_validate(body)


def parse_body(body: str | None, content_type: str | None) -> dict[str, Any]:
    """JSON or ``application/x-www-form-urlencoded`` into a flat dict of field -> value."""
    kind = (content_type or "").split(";")[0].strip().lower()
    text = body or ""
    if kind == "application/json":
        try:
            data = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            raise InvalidSubmission([{"field": "body", "error": f"not valid JSON ({exc.msg} at character {exc.pos})"}])
        if not isinstance(data, dict):
            raise InvalidSubmission([{"field": "body", "error": "JSON body must be an object of field: value"}])
        return data
    if kind in ("application/x-www-form-urlencoded", ""):
        pairs = parse_qs(text, keep_blank_values=True, max_num_fields=200)
        return {k: v[-1] if len(v) == 1 else v for k, v in pairs.items()}
    raise InvalidSubmission([{"field": "content-type",
                              "error": f"{kind!r} is not accepted; post JSON or an HTML form (urlencoded)"}])


def submit(form_id: str, data: dict[str, Any], *, idempotency_key: str | None = None) -> Submission:
    """Validate, upsert the contact, record the submission and enroll. Raises UnknownForm or
    InvalidSubmission (before anything is stored)."""
    from automaps.contacts import ContactStore

    form = load_form(form_id)
    if form.honeypot and str(data.get(form.honeypot) or "").strip():
        return Submission(form_id=form_id, outcome="ignored", thank_you_url=thank_you_url(form, None))
    values = validate(form, data)
    submission_id = idempotency_key_for(form_id, values, idempotency_key)
    store = ContactStore()
    email = values.pop("email")
    contact, created = store.upsert_by_email(email, values, tags=form.tags)
    event = {"type": "form_submitted", "form": form_id, "submission_id": submission_id,
             "fields": {**values, "email": email}, "at": clock.iso()}
    store.record(contact.id, "form.submitted", {"form": form_id, "submission_id": submission_id,
                                                "fields": sorted(values) + ["email"], "created": created})
    enrolled = enroll_matching(Trigger(type="form_submitted", key=form_id), contact.id, event, submission_id)
    return Submission(form_id=form_id, outcome="accepted", submission_id=submission_id, contact_id=contact.id,
                      created=created, enrollments=enrolled, thank_you_url=thank_you_url(form, contact.id))


def validate(form: FormDefinition, data: dict[str, Any]) -> dict[str, Any]:
    """Typed, cleaned values of the form's fields (blank optional fields are dropped)."""
    model = _submission_model(form)
    given = {f.name: data[f.name] for f in form.fields if f.name in data and _present(data[f.name])}
    try:
        parsed = model.model_validate(given)
    except ValidationError as exc:
        raise InvalidSubmission(field_errors(exc, root="body")) from None
    return {k: _plain(v) for k, v in parsed.model_dump(exclude_none=True).items()}


def idempotency_key_for(form_id: str, values: dict[str, Any], supplied: str | None) -> str:
    """The same form posted twice with the same values (or the same Idempotency-Key) is one
    submission: it upserts once more but never enrolls twice."""
    basis = supplied or json.dumps(values, sort_keys=True, default=str)
    return "s_" + hashlib.sha256(f"{form_id}\n{basis}".encode()).hexdigest()[:32]


# ---------------------------------------------------------------- field types


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA timezone such as Europe/Paris") from None
    return value


def _phone(value: str) -> str:
    if not _PHONE.match(value.strip()):
        raise ValueError("not a phone number: use digits, optionally starting with + and the country code")
    return value.strip()


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a timezone offset, e.g. 2026-12-01T18:00:00+01:00 or ...Z")
    return value


_TYPES: dict[str, Any] = {
    "email": EmailStr,
    "phone": Annotated[str, AfterValidator(_phone)],
    "number": float,
    "date": date,
    "datetime": Annotated[datetime, AfterValidator(_aware)],
    "timezone": Annotated[str, AfterValidator(_timezone)],
    "checkbox": bool,
}


def _submission_model(form: FormDefinition) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for f in form.fields:
        kind = _TYPES.get(f.type) or Annotated[str, Field(max_length=f.max_length)]
        fields[f.name] = (kind, ...) if f.required else (kind | None, None)
    return create_model(f"Form_{form.id.replace('-', '_')}", __config__=ConfigDict(str_strip_whitespace=True),
                        **fields)


def _present(value: Any) -> bool:
    return value not in (None, "", [])


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime):
        return clock.iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _url(form: FormDefinition) -> str | None:
    return str(form.thank_you_url) if form.thank_you_url else None


def thank_you_url(form: FormDefinition, contact_id: str | None) -> str | None:
    """Where the browser goes after submitting; with ``identify_visitor``, carrying the visitor
    token (``am_c``). A caught bot (no contact) gets a genuine-looking token that names no one."""
    url = _url(form)
    if url is None or not form.identify_visitor:
        return url
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    from automaps.channels.tracking import VISITOR_PARAM, visitor_token

    token = visitor_token(contact_id or f"c_{uuid.uuid4().hex}")
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != VISITOR_PARAM]
    return urlunsplit(parts._replace(query=urlencode([*query, (VISITOR_PARAM, token)])))
