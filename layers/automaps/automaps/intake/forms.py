"""Form submissions: parse what a browser or a script posts, validate it against the form's
definition, store the contact, record the event and enroll the contact in matching maps.

Nothing is stored unless the whole submission is valid: a body that cannot be read, a value of
the wrong type, a number DynamoDB cannot hold or a control character in text is a 400 naming the
field (automaps.intake.inputs). A valid post with a filled honeypot is answered exactly like a real one
(a genuine-looking submission id, the same enrollments, the same redirect) and stores nothing, so
bots learn nothing.

A contact is identified by its email or, without one, by its phone (E.164): a form has an
``email`` or a ``phone`` field, and a post must carry one of them. On a known contact a post
changes only what the form's ``overwrite`` allows (by default every field but email and phone);
other fields are filled when empty, and a different value is not applied but recorded as
``contact.update_refused``.

Identical values posted within :data:`REPEAT_WINDOW` (a double click), or with the same
``Idempotency-Key`` within :data:`KEY_WINDOW`, are one submission: the same submission id, so
no map enrolls the contact twice. A later identical post is a new submission, which the maps'
entry rules admit or refuse (recorded as ``map.enroll_skipped`` with the reason).
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import ClientError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    ValidationError,
    create_model,
)

from automaps import aws, clock, config
from automaps.errors import field_errors
from automaps.intake import inputs
from automaps.journeys.enrollment import EnrollResult, Trigger, enroll_matching
from automaps.store.content import ContentStore, from_item, to_item

if TYPE_CHECKING:
    from automaps.store.contacts import Contact, ContactStore

FIELD_NAME = r"^[a-z][a-z0-9_]{0,63}$"
IDENTITIES = ("email", "phone")
MAX_BODY_BYTES = 65_536
MAX_FIELDS = 200
REPEAT_WINDOW = timedelta(minutes=10)
KEY_WINDOW = timedelta(hours=24)
SUBMISSION_PREFIX = "SUBMISSION#"
MODELS_CACHED = 256
"""Submission models kept (one per form definition seen by this process)."""


class FormField(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=FIELD_NAME)
    type: Literal["email", "text", "phone", "number", "date", "datetime", "timezone", "checkbox"] = "text"
    required: bool = False
    max_length: int = Field(default=500, ge=1, le=10000)
    multiline: bool = Field(default=False, description="text that may hold tabs and line breaks (a message)")


class FormDefinition(BaseModel):
    """A form as stored in the content table (``content/forms/<id>.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9-]{1,60}$")
    fields: list[FormField] = Field(min_length=1)
    honeypot: str | None = Field(default="website", description="a hidden field humans leave empty")
    thank_you_url: HttpUrl | None = None
    identify_visitor: bool = Field(
        default=False,
        description=(
            "add am_c=<visitor token> to the thank-you URL, so the page snippet there knows the contact "
            "(set it when the thank-you page is yours and carries the snippet)"
        ),
    )
    tags: list[str] = Field(default_factory=list, description="tags added to the contact on submit")
    overwrite: list[str] | None = Field(
        default=None,
        description=(
            "the fields a post may change on a known contact; others are only filled when empty. "
            "Default: every field of the form except email and phone"
        ),
    )
    phone_region: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}$",
        description=("ISO country of phone numbers posted without +<country code>, e.g. US"),
    )

    def model_post_init(self, _: Any) -> None:
        names = [f.name for f in self.fields]
        if not set(IDENTITIES) & set(names):
            raise ValueError(f"form {self.id!r}: an 'email' or a 'phone' field is required (it identifies the contact)")
        if len(set(names)) != len(names):
            raise ValueError(f"form {self.id!r}: field names repeat")
        unknown = sorted(set(self.overwrite or ()) - set(names))
        if unknown:
            raise ValueError(f"form {self.id!r}: overwrite names fields the form does not have: {', '.join(unknown)}")

    def may_overwrite(self, name: str) -> bool:
        return name in self.overwrite if self.overwrite is not None else name not in IDENTITIES


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
    submission_id: str
    contact_id: str | None = None
    created: bool = False
    enrollments: list[EnrollResult] = Field(default_factory=list)
    thank_you_url: str | None = None

    def answer(self) -> dict[str, Any]:
        """What the poster is told; a caught bot's answer has the same shape and values' kinds."""
        return {
            "status": "accepted",
            "submission_id": self.submission_id,
            "enrollments": [{"map_id": e.map_id, "outcome": e.outcome} for e in self.enrollments],
        }


def load_form(form_id: str) -> FormDefinition:
    body = ContentStore().get("FORM", form_id)
    if body is None:
        raise UnknownForm(form_id)
    return FormDefinition.model_validate(body)


def parse_body(body: bytes | str | None, content_type: str | None) -> dict[str, Any]:
    """JSON or ``application/x-www-form-urlencoded`` into a flat dict of field -> value. Raises
    InvalidSubmission, or inputs.BadInput for a body that cannot be read."""
    kind = (content_type or "").split(";")[0].strip().lower()
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else (body or b"")
    if len(raw) > MAX_BODY_BYTES:
        raise inputs.BadInput("body", f"is larger than {MAX_BODY_BYTES} bytes", 413)
    if kind not in ("application/json", "application/x-www-form-urlencoded", ""):
        raise InvalidSubmission(
            [
                {
                    "field": "content-type",
                    "error": f"{kind[:80]!r} is not accepted; post JSON or an HTML form (urlencoded)",
                }
            ]
        )
    text = inputs.body_text(raw, content_type)
    if kind == "application/json":
        data = inputs.load_json(text or "{}")
        if not isinstance(data, dict):
            raise InvalidSubmission([{"field": "body", "error": "JSON body must be an object of field: value"}])
        return data
    try:
        pairs = parse_qs(
            text,
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            encoding=inputs.charset(content_type),
            errors="strict",
        )
    except UnicodeDecodeError as exc:
        raise inputs.BadInput("body", f"a %-encoded value is not valid {exc.encoding}; send UTF-8") from None
    except ValueError:
        raise inputs.BadInput("body", f"has more than {MAX_FIELDS} fields", 413) from None
    return {k: v[-1] if len(v) == 1 else v for k, v in pairs.items()}


def submit(form_id: str, data: dict[str, Any], *, idempotency_key: str | None = None) -> Submission:
    """Validate, upsert the contact, record the submission and enroll. Raises UnknownForm or
    InvalidSubmission (before anything is stored)."""
    from automaps.store.contacts import ContactStore

    form = load_form(form_id)
    values = validate(form, data)
    if form.honeypot and _filled(data.get(form.honeypot)):
        return _decoy(form)
    submission_id = submission_id_for(form_id, values, idempotency_key)
    store = ContactStore()
    email = values.pop("email", None)
    contact, created, refused = _store_contact(store, form, email, values)
    fields = {**values, **({"email": email} if email else {})}
    event = {
        "type": "form_submitted",
        "form": form_id,
        "submission_id": submission_id,
        "fields": fields,
        "at": clock.iso(),
    }
    store.record(
        contact.id,
        "form.submitted",
        {"form": form_id, "submission_id": submission_id, "fields": sorted(fields), "created": created},
    )
    if refused:
        store.record(
            contact.id, "contact.update_refused", {"form": form_id, "submission_id": submission_id, "fields": refused}
        )
    enrolled = enroll_matching(Trigger(type="form_submitted", key=form_id), contact.id, event, submission_id)
    return Submission(
        form_id=form_id,
        outcome="accepted",
        submission_id=submission_id,
        contact_id=contact.id,
        created=created,
        enrollments=enrolled,
        thank_you_url=thank_you_url(form, contact.id),
    )


def validate(form: FormDefinition, data: dict[str, Any]) -> dict[str, Any]:
    """Typed, cleaned values of the form's fields (blank optional fields are dropped); the email
    or the phone must be among them."""
    model = _submission_model(form)
    given = {f.name: data[f.name] for f in form.fields if f.name in data and _present(data[f.name])}
    try:
        parsed = model.model_validate(given)
    except ValidationError as exc:
        raise InvalidSubmission(field_errors(exc, root="body")) from None
    values = {k: _plain(v) for k, v in parsed.model_dump(exclude_none=True).items()}
    if not set(IDENTITIES) & set(values):
        raise InvalidSubmission(
            [{"field": name, "error": "give an email address or a phone number"} for name in IDENTITIES]
        )
    return values


# ---------------------------------------------------------------- submissions and repeats


def submission_id_for(form_id: str, values: dict[str, Any], supplied: str | None) -> str:
    """The submission these values (or this Idempotency-Key) make now: the id of an identical post
    within REPEAT_WINDOW (KEY_WINDOW for a key), else a new one. One conditional write of
    ``SUBMISSION#<digest>`` (contacts table, expiring by TTL) decides between racing posts."""
    basis = f"key\n{supplied}" if supplied else "values\n" + json.dumps(values, sort_keys=True, default=str)
    digest = hashlib.sha256(f"{form_id}\n{basis}".encode()).hexdigest()[:40]
    window = KEY_WINDOW if supplied else REPEAT_WINDOW
    now = clock.now()
    fresh = _new_submission_id()
    try:
        aws.client("dynamodb").put_item(
            TableName=config.contacts_table(),
            Item=to_item(
                {
                    "pk": f"{SUBMISSION_PREFIX}{digest}",
                    "sk": "SUBMISSION",
                    "submission_id": fresh,
                    "form": form_id,
                    "at": clock.iso(now),
                    "at_epoch": int(now.timestamp()),
                    "expiration": int((now + window).timestamp()),
                }
            ),
            ConditionExpression="attribute_not_exists(pk) OR at_epoch <= :cutoff",
            ExpressionAttributeValues=to_item({":cutoff": int((now - window).timestamp())}),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return str(from_item(exc.response["Item"])["submission_id"])  # type: ignore[typeddict-item]
    return fresh


def idempotency_key_for(form_id: str, values: dict[str, Any], supplied: str | None) -> str:
    """Deprecated name of :func:`submission_id_for`."""
    return submission_id_for(form_id, values, supplied)


def _new_submission_id() -> str:
    return f"s_{uuid.uuid4().hex}"


def _decoy(form: FormDefinition) -> Submission:
    """A caught bot's answer: what a first post of a new contact gets, storing nothing."""
    from automaps.journeys.enrollment import cached_maps

    trigger = Trigger(type="form_submitted", key=form.id)
    outcome = _first_outcome()
    enrollments = [
        EnrollResult(map_id=record.id, enrollment_id=f"e_{uuid.uuid4().hex[:24]}", outcome=outcome)
        for record in cached_maps()
        if trigger in record.triggers
    ]
    return Submission(
        form_id=form.id,
        outcome="ignored",
        submission_id=_new_submission_id(),
        enrollments=enrollments,
        thank_you_url=thank_you_url(form, None),
    )


def _first_outcome() -> Any:
    """What enrolling a new contact answers: "queued" where enrollment goes through a queue."""
    outcomes = EnrollResult.model_fields["outcome"].annotation.__args__  # type: ignore[union-attr]
    return "queued" if "queued" in outcomes else "enrolled"


def _filled(value: Any) -> bool:
    return bool(value) if not isinstance(value, str) else bool(value.strip())


# ---------------------------------------------------------------- the contact


def _store_contact(
    store: ContactStore, form: FormDefinition, email: str | None, values: dict[str, Any]
) -> tuple[Contact, bool, list[str]]:
    """The contact the post identifies, created or updated under the form's overwrite policy;
    whether it was created, and the fields whose different value was refused."""
    from automaps.store.contacts import EmailInUse, WriteConflict

    phone = values.get("phone")
    fields = {**values, **({"email": email} if email else {})}
    for _ in range(5):
        existing = store.find_by_email(email) if email else None
        if existing is None and phone:
            by_phone = store.find_by_phone(phone)
            if by_phone is not None and (email is None or not by_phone.email):
                existing = by_phone
        if existing is None:
            contact = store.create_contact(values, form.tags, email=email, phone=phone)
            if contact is None:
                continue  # another post created it a moment ago: update that one
            if email and phone:
                store.claim_phone(contact.id, phone)
            return contact, True, []
        refused: list[str] = []

        def change(current: Contact, refused: list[str] = refused) -> Contact | None:
            merged, refused[:] = _merge(form, current.fields, fields)
            tags = current.tags | set(form.tags)
            if merged == current.fields and tags == current.tags:
                return None
            return current.model_copy(update={"fields": merged, "tags": tags})

        try:
            contact = store.update_with(existing.id, change)
        except EmailInUse:
            continue  # the address was taken meanwhile: its owner is the contact
        if email and phone and "phone" not in refused:
            store.claim_phone(contact.id, phone)
        return contact, False, refused
    raise WriteConflict(f"form {form.id}: the contact kept changing under the post")


def _merge(form: FormDefinition, current: dict[str, Any], posted: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    merged, refused = dict(current), []
    for name, value in posted.items():
        old = current.get(name)
        if _same(name, old, value):
            continue
        if old in (None, "") or form.may_overwrite(name):
            merged[name] = value
        else:
            refused.append(name)
    return merged, sorted(refused)


def _same(name: str, old: Any, new: Any) -> bool:
    """Equal values; an email in any case, a phone in any format (one stored before E.164) are the same."""
    if name == "email" and isinstance(old, str) and isinstance(new, str):
        return old.strip().lower() == new.strip().lower()
    if name == "phone" and isinstance(old, str) and isinstance(new, str) and old != new:
        from automaps.store.contacts import normalise_phone

        try:
            return normalise_phone(old) == new
        except ValueError:
            return False
    return bool(old == new)


# ---------------------------------------------------------------- field types


def _timezone(value: str) -> str:
    try:
        if len(value) > 64:
            raise ValueError
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{value[:64]!r} is not an IANA timezone such as Europe/Paris") from None
    return value


def _phone(region: str | None) -> Any:
    from automaps.store.contacts import normalise_phone

    return lambda value: normalise_phone(value, region)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a timezone offset, e.g. 2026-12-01T18:00:00+01:00 or ...Z")
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None
    return value


def _text(value: Any) -> Any:
    """Dates and times come as text (ISO 8601), never as numbers or booleans."""
    if not isinstance(value, str):
        raise ValueError("must be text in ISO 8601, e.g. 2026-12-01 or 2026-12-01T18:00:00Z")
    return value


def _checkbox(value: Any) -> Any:
    if isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in _CHECKED | _UNCHECKED):
        return value if isinstance(value, bool) else value.strip().lower() in _CHECKED
    raise ValueError("must be true or false (a checkbox)")


_CHECKED = {"true", "on", "yes", "1"}
_UNCHECKED = {"false", "off", "no", "0"}


def _field_type(form: FormDefinition, field: FormField) -> Any:
    """The pydantic type of a form field: strict where the type says (a number is never a boolean)."""

    def clean(value: str) -> str:
        return inputs.clean_text(value, multiline=field.multiline)

    text = Annotated[str, Field(max_length=field.max_length), AfterValidator(clean)]
    kinds: dict[str, Any] = {
        "text": text,
        "email": Annotated[EmailStr, Field(max_length=254)],
        "phone": Annotated[str, Field(max_length=40), AfterValidator(clean), AfterValidator(_phone(form.phone_region))],
        "number": Annotated[int | float, BeforeValidator(inputs.dynamodb_number)],
        "date": Annotated[date, BeforeValidator(_text)],
        "datetime": Annotated[datetime, BeforeValidator(_text), AfterValidator(_aware)],
        "timezone": Annotated[str, AfterValidator(clean), AfterValidator(_timezone)],
        "checkbox": Annotated[bool, BeforeValidator(_checkbox)],
    }
    return kinds[field.type]


def _submission_model(form: FormDefinition) -> type[BaseModel]:
    """The pydantic model of a form's submissions, built once per definition (its JSON, so an
    edited form gets a new model): ``create_model`` took about 10 ms of every post."""
    return _model_of(form.model_dump_json())


@functools.lru_cache(maxsize=MODELS_CACHED)
def _model_of(definition: str) -> type[BaseModel]:
    form = FormDefinition.model_validate_json(definition)
    fields: dict[str, Any] = {}
    for f in form.fields:
        kind = _field_type(form, f)
        fields[f.name] = (kind, ...) if f.required else (kind | None, None)
    return create_model(f"Form_{form.id.replace('-', '_')}", __config__=ConfigDict(str_strip_whitespace=True), **fields)


def _present(value: Any) -> bool:
    return value not in (None, "", [])


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
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
