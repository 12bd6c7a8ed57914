"""The contacts store: profiles, tags, notes, history and enrollments in the contacts table.

Layout (docs/architecture.md), all under ``pk = CONTACT#<id>`` except the email marker:

    PROFILE                          id, fields, tags, unsubscribed, created_at, updated_at, version
    H#<iso time>#<suffix>            history entry: at, kind, detail, map_id, step_id
    NOTE#<iso time>#<note id>        note: note_id, text, at
    NOTEID#<note id>                 makes add_note idempotent on the note id
    DONE#<visit key>                 the effect one visit of a step made (kind, detail, entry): see Effect
    ENROLL#<map id>#<enrollment id>  enrollment: status, started_at, event, execution_arn, ...
    EMAIL#<lowercased email> / EMAIL the one contact that owns an address (attr contact_id)
    PHONE#<e164> / PHONE             the contact a phone number finds (contacts without email)
    SUPPRESSED#<address> / SUPPRESSED          never email this address (reason, at, message_id)
    SUPPRESSED#sha256:<hex> / SUPPRESSED       the same, kept by an erasure: suppression_hash(address)

Profiles change by optimistic concurrency: every write is conditional on the ``version`` read
and bumps it; a lost race re-reads and re-applies the change. An email address belongs to one
contact, enforced by creating the profile and its marker in one transaction.

Nothing here logs an email address or phone number in full: use :func:`mask_email` and
:func:`mask_phone`.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from automaps import aws, clock, config
from automaps.errors import TransientError
from automaps.store import kinds
from automaps.store.content import from_item, to_item

PROFILE = "PROFILE"
HISTORY_PREFIX = "H#"
NOTE_PREFIX = "NOTE#"
ENROLL_PREFIX = "ENROLL#"
BY_KIND = "ByKind"  # local secondary index of history entries: ksk = <kind>#<time>#<suffix>
CHANNELS = ("email", "sms")

_WRITE_ATTEMPTS = 30  # optimistic retries: enough for every one of 20 writers racing on one profile
_UPSERT_ATTEMPTS = 5


class ContactNotFound(LookupError):
    def __init__(self, contact_id: str) -> None:
        super().__init__(f"no contact {contact_id!r}")
        self.contact_id = contact_id


class EnrollmentNotFound(LookupError):
    def __init__(self, contact_id: str, map_id: str, enrollment_id: str) -> None:
        super().__init__(f"no enrollment {enrollment_id!r} of contact {contact_id!r} in map {map_id!r}")


class EmailInUse(ValueError):
    """The address already identifies another contact."""

    def __init__(self, email: str) -> None:
        super().__init__(f"{mask_email(email)} already belongs to another contact")


class WriteConflict(RuntimeError):
    """A profile kept changing under us for every retry; the caller may retry later."""


# ------------------------------------------------------------------ models


class Contact(BaseModel):
    id: str
    fields: dict[str, Any] = Field(default_factory=dict)
    tags: set[str] = Field(default_factory=set)
    created_at: datetime
    updated_at: datetime
    version: int = 1
    unsubscribed: set[str] = Field(default_factory=set)

    @property
    def email(self) -> str | None:
        return self.fields.get("email")

    @property
    def phone(self) -> str | None:
        return self.fields.get("phone")

    @property
    def timezone(self) -> str | None:
        return self.fields.get("timezone")


class HistoryEntry(BaseModel):
    at: datetime
    kind: str
    detail: dict[str, Any] = Field(default_factory=dict)
    map_id: str | None = None
    step_id: str | None = None
    enrollment_id: str | None = None
    """The enrollment whose step wrote the entry (what the router follows to bound chains of maps)."""


class Enrollment(BaseModel):
    contact_id: str
    map_id: str
    enrollment_id: str
    status: Literal["active", "paused", "waiting", "exited"] = "active"
    """``waiting``: no run holds the contact, who waits at ``position`` (a goal without a timeout,
    the return from another map, the end of a sequence) until an event moves them on."""
    started_at: datetime
    exited_at: datetime | None = None
    exit_reason: str | None = None
    event: dict[str, Any] = Field(default_factory=dict)
    execution_arn: str | None = None
    run: str | None = None
    """The execution that holds the contact now (its ARN, known before it starts): the fence every
    step's task checks (automaps.journeys.positions); a move sets the next run's ARN first."""
    position: dict[str, Any] | None = None
    """Where the contact stands (automaps.journeys.positions.Position), written as each step begins."""
    paused_at: datetime | None = None
    paused_from: str | None = None


# ------------------------------------------------------------------ masking (for logs)


def mask_email(email: str | None) -> str:
    """``jane@example.com`` -> ``j***@example.com``."""
    if not email:
        return ""
    local, at, domain = email.strip().partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"


def mask_phone(phone: str | None) -> str:
    """``+15551234567`` -> ``+1******4567``."""
    if not phone:
        return ""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) <= 5:
        return "*" * len(digits)
    plus = "+" if phone.strip().startswith("+") else ""
    return f"{plus}{digits[0]}{'*' * (len(digits) - 5)}{digits[-4:]}"


def normalise_phone(phone: str, region: str | None = None) -> str:
    """A phone number in E.164 (``+14155550123``), as the ``PHONE#`` marker keys it; ``region``
    (ISO 3166 alpha-2) places national numbers. Raises ValueError when it is not a valid number."""
    import phonenumbers

    text = (phone or "").strip()
    try:
        parsed = phonenumbers.parse(text[:40], (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        hint = "" if region else ", starting with + and the country code"
        raise ValueError(f"not a phone number: use digits{hint}") from None
    if len(text) > 40 or not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(email: str) -> str:
    """The address as the uniqueness marker keys it: stripped and lowercased."""
    address = (email or "").strip()
    local, at, domain = address.partition("@")
    if not (local and at and domain) or any(ch.isspace() for ch in address):
        raise ValueError(f"not an email address: {mask_email(address)!r}")
    return address.lower()


# ------------------------------------------------------------------ keys and items


def _pk(contact_id: str) -> str:
    return f"CONTACT#{contact_id}"


def _profile_key(contact_id: str) -> dict[str, str]:
    return {"pk": _pk(contact_id), "sk": PROFILE}


def _marker_key(email: str) -> dict[str, str]:
    return {"pk": f"EMAIL#{normalise_email(email)}", "sk": "EMAIL"}


def _phone_marker_key(phone: str) -> dict[str, str]:
    return {"pk": f"PHONE#{normalise_phone(phone)}", "sk": "PHONE"}


def _enrollment_key(contact_id: str, map_id: str, enrollment_id: str) -> dict[str, str]:
    return {"pk": _pk(contact_id), "sk": f"{ENROLL_PREFIX}{map_id}#{enrollment_id}"}


def _sortable(at: datetime) -> str:
    """Fixed-width UTC time, so sort keys order by time (``clock.iso`` drops zero microseconds)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_last_stamp = 0
_stamp_lock = threading.Lock()


def _suffix() -> str:
    """Orders entries written at one clock instant (a fixed or virtual clock, or one tick) in the
    order this process wrote them: a strictly increasing nanosecond stamp, then random bits."""
    global _last_stamp
    with _stamp_lock:
        _last_stamp = max(time.time_ns(), _last_stamp + 1)
        stamp = _last_stamp
    return f"{stamp:016x}{secrets.token_hex(4)}"


def _plain(value: Any) -> Any:
    """Field values as DynamoDB can hold them: datetimes as ISO strings, sets as sorted lists."""
    if isinstance(value, datetime):
        return clock.iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _profile_item(contact: Contact) -> dict[str, Any]:
    return to_item(
        {
            **_profile_key(contact.id),
            "id": contact.id,
            "fields": _plain(contact.fields),
            "tags": sorted(contact.tags),
            "unsubscribed": sorted(contact.unsubscribed),
            "created_at": clock.iso(contact.created_at),
            "updated_at": clock.iso(contact.updated_at),
            "version": contact.version,
        }
    )


def _history_item(contact_id: str, entry: HistoryEntry, stamp: str | None = None) -> dict[str, Any]:
    """A history entry (sort key ``H#<time>#<stamp>``), also indexed by kind and time (``ksk``, the
    ByKind index) when its kind is read by kind (automaps.store.kinds.indexed)."""
    stamp = f"{_sortable(entry.at)}#{stamp or _suffix()}"
    return to_item(
        _without_none(
            {
                "pk": _pk(contact_id),
                "sk": f"{HISTORY_PREFIX}{stamp}",
                "ksk": f"{entry.kind}#{stamp}" if kinds.indexed(entry.kind) else None,
                "at": clock.iso(entry.at),
                "kind": entry.kind,
                "detail": _plain(entry.detail),
                "map_id": entry.map_id,
                "step_id": entry.step_id,
                "enrollment_id": entry.enrollment_id,
            }
        )
    )


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _cancellation_codes(exc: ClientError) -> list[str]:
    return [reason.get("Code", "None") for reason in exc.response.get("CancellationReasons", [])]


def is_conflict(exc: ClientError) -> bool:
    """DynamoDB refused the write because another request had one of its items at that moment (a
    transaction cancelled with ``TransactionConflict``, or a write meeting a transaction under
    way): nothing was written, and trying again is right."""
    code = _error_code(exc)
    return code == "TransactionConflictException" or (
        code == "TransactionCanceledException" and "TransactionConflict" in _cancellation_codes(exc)
    )


DONE_PREFIX = "DONE#"
EXPIRATION = "expiration"  # the contacts table's TTL attribute (epoch seconds), as the IdempotencyTable's
MARKER_TTL_SECONDS = 400 * 24 * 3600  # DONE#/EFFECT# markers: past a Standard execution's year and its retries


def marker_expiration(at: datetime | None = None) -> int:
    """When a visit's marker written at ``at`` (default now) may be deleted by TTL: 400 days on."""
    return int((at or clock.now()).timestamp()) + MARKER_TTL_SECONDS


def _done_key(contact_id: str, visit: str) -> dict[str, str]:
    return {"pk": _pk(contact_id), "sk": f"{DONE_PREFIX}{visit}"}


@dataclass(frozen=True)
class Effect:
    """The change one visit of a step makes, and how it is recorded: its history entry is written
    in the change's own transaction together with the visit's marker ``DONE#<visit key>``
    (conditional on its absence). A retry of the visit (the answer was lost, a later write was
    throttled) finds the marker (``ContactStore.visit_effect``) and takes the change as its own
    instead of making it again or calling it "already as requested"."""

    visit: str
    kind: str
    map_id: str | None = None
    step_id: str | None = None
    enrollment_id: str | None = None

    def entry(self, detail: dict[str, Any]) -> HistoryEntry:
        return HistoryEntry(
            at=clock.now(),
            kind=self.kind,
            detail=detail,
            map_id=self.map_id,
            step_id=self.step_id,
            enrollment_id=self.enrollment_id,
        )


def effect_writes(table: str, contact_id: str, visit: str, entry: HistoryEntry) -> list[dict[str, Any]]:
    """The history entry of a visit's change and the visit's marker, as transaction items (last in
    the transaction: the marker's ``ConditionalCheckFailed`` is the last cancellation reason)."""
    history = _history_item(contact_id, entry)
    marker = to_item(
        _without_none(
            {
                **_done_key(contact_id, visit),
                "kind": entry.kind,
                "detail": _plain(entry.detail),
                "entry": history["sk"]["S"],
                "at": clock.iso(entry.at),
                "map_id": entry.map_id,
                "step_id": entry.step_id,
                EXPIRATION: marker_expiration(),
            }
        )
    )
    return [
        {"Put": {"TableName": table, "Item": history}},
        {"Put": {"TableName": table, "Item": marker, "ConditionExpression": "attribute_not_exists(pk)"}},
    ]


def effect_refused(exc: ClientError, index: int) -> None:
    """After a cancelled transaction whose visit marker is at ``index``: a conflict, or the marker
    written by another invocation of the same visit, is a WriteConflict (the retry reads what is
    there); other cancellations are the caller's to judge."""
    codes = _cancellation_codes(exc)
    if is_conflict(exc):
        raise WriteConflict("another writer had one of the items at the same time") from None
    if len(codes) > index and codes[index] == "ConditionalCheckFailed":
        raise WriteConflict("another invocation of this visit recorded its effect") from None


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.25, 0.005 * 2**attempt)))


# ------------------------------------------------------------------ the store


class ContactStore:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or config.contacts_table()

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    # -------------------------------------------------------------- profiles

    def get(self, contact_id: str) -> Contact | None:
        found = self._db.get_item(TableName=self.table, Key=to_item(_profile_key(contact_id)), ConsistentRead=True).get(
            "Item"
        )
        if not found:
            return None
        plain = from_item(found)
        return Contact.model_validate({k: v for k, v in plain.items() if k not in ("pk", "sk")})

    def require(self, contact_id: str) -> Contact:
        contact = self.get(contact_id)
        if contact is None:
            raise ContactNotFound(contact_id)
        return contact

    def find_by_email(self, email: str) -> Contact | None:
        owner = self._email_owner(email)
        return self.get(owner) if owner else None

    def upsert_by_email(self, email: str, fields: dict[str, Any], tags: Iterable[str] = ()) -> tuple[Contact, bool]:
        """The contact owning ``email`` with ``fields`` merged in and ``tags`` added, and whether
        it was created. Concurrent upserts of one address converge on one contact."""
        address = email.strip()
        normalise_email(address)  # refuses what is not an address before anything is written
        tags = set(tags)
        for attempt in range(_UPSERT_ATTEMPTS):
            owner = self._email_owner(address)
            existing = self.get(owner) if owner else None
            if existing is not None:
                try:
                    return self._merge(existing, fields, tags), False
                except ContactNotFound:
                    continue  # deleted under us: the marker is now stale, create anew
            created = self._create(address, fields, tags, stale_owner=owner)
            if created is not None:
                return created, True
            _backoff(attempt)
        raise WriteConflict(f"could not upsert the contact for {mask_email(address)}")

    # -------------------------------------------------------------- contacts identified by phone (no email)
    # A contact is identified by its email or, without one, by its phone in E.164: the PHONE#<e164>
    # marker (sk PHONE, attr contact_id) is written with the profile of a contact created by phone,
    # and claimed (if free) for a contact with both, so a later post carrying only the phone finds it.

    def find_by_phone(self, phone: str) -> Contact | None:
        found = self._db.get_item(TableName=self.table, Key=to_item(_phone_marker_key(phone)), ConsistentRead=True).get(
            "Item"
        )
        return self.get(from_item(found)["contact_id"]) if found else None

    def create_contact(
        self, fields: dict[str, Any], tags: Iterable[str] = (), *, email: str | None = None, phone: str | None = None
    ) -> Contact | None:
        """Create a contact identified by ``email`` (its EMAIL# marker) or, without one, by ``phone``
        (its PHONE# marker), in one transaction with ``contact.created``. None when another contact
        holds that identity already (the caller looks it up again)."""
        if email:
            return self._create(email.strip(), fields, set(tags), stale_owner=self._stale_email_owner(email))
        if not phone:
            raise ValueError("a contact needs an email address or a phone number")
        return self._create_identified(
            "phone",
            normalise_phone(phone),
            _phone_marker_key(phone),
            fields,
            set(tags),
            {"ConditionExpression": "attribute_not_exists(pk)"},
        )

    def claim_phone(self, contact_id: str, phone: str) -> bool:
        """Make ``phone`` find this contact, unless it already finds another; False when it does."""
        try:
            self._db.put_item(
                TableName=self.table,
                Item=to_item({**_phone_marker_key(phone), "contact_id": contact_id}),
                ConditionExpression="attribute_not_exists(pk) OR contact_id = :me",
                ExpressionAttributeValues=to_item({":me": contact_id}),
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def update_with(self, contact_id: str, change: Callable[[Contact], Contact | None]) -> Contact:
        """Apply ``change`` to the profile (None: nothing to do) under optimistic concurrency: it is
        called again on the re-read profile after a lost race. An email it fills claims the marker."""
        return self._mutate(contact_id, change)

    def _stale_email_owner(self, email: str) -> str | None:
        owner = self._email_owner(email)
        return owner if owner and self.get(owner) is None else None

    def change_tags(
        self, contact_id: str, add: Iterable[str] = (), remove: Iterable[str] = (), effect: Effect | None = None
    ) -> tuple[Contact, set[str], set[str]]:
        """Add and remove tags; returns the contact and the tags that were actually added/removed.
        With ``effect``, a change is recorded (``{"added", "removed"}``) in the same transaction."""
        to_add, to_remove = set(add), set(remove)
        changes: dict[str, set[str]] = {}

        def change(contact: Contact) -> Contact | None:
            changes["added"] = to_add - contact.tags
            changes["removed"] = to_remove & contact.tags
            if not changes["added"] and not changes["removed"]:
                return None
            return contact.model_copy(update={"tags": (contact.tags | to_add) - to_remove})

        def describe(before: Contact, after: Contact) -> dict[str, Any]:
            return {"added": sorted(after.tags - before.tags), "removed": sorted(before.tags - after.tags)}

        contact = self._mutate(contact_id, change, effect=(effect, describe) if effect else None)
        return contact, changes["added"], changes["removed"]

    def update_fields(
        self,
        contact_id: str,
        set: dict[str, Any],
        clear: Iterable[str] = (),
        effect: Effect | None = None,
        describe: Callable[[Contact, Contact], dict[str, Any]] | None = None,
    ) -> Contact:
        """Set and clear fields. Changing ``email`` moves the address's marker (EmailInUse if taken).
        With ``effect``, a change is recorded in the same transaction: ``describe(before, after)``,
        by default ``{"set": [names], "cleared": [names]}`` of the fields that changed."""
        values, cleared = _plain(dict(set)), list(clear)
        if "email" in cleared:
            raise ValueError("the email field identifies the contact and cannot be cleared")
        if "email" in values:
            values["email"] = str(values["email"]).strip()
            normalise_email(values["email"])

        def change(contact: Contact) -> Contact | None:
            fields = {k: v for k, v in {**contact.fields, **values}.items() if k not in cleared}
            return None if fields == contact.fields else contact.model_copy(update={"fields": fields})

        def changed_names(before: Contact, after: Contact) -> dict[str, Any]:
            return {
                "set": sorted(k for k in values if after.fields.get(k) != before.fields.get(k)),
                "cleared": sorted(k for k in cleared if k in before.fields),
            }

        return self._mutate(contact_id, change, effect=(effect, describe or changed_names) if effect else None)

    def set_unsubscribed(self, contact_id: str, channel: str) -> bool:
        """Unsubscribe the contact from a channel; False when it already was."""
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
        changed: list[bool] = []

        def change(contact: Contact) -> Contact | None:
            changed[:] = [channel not in contact.unsubscribed]
            return contact.model_copy(update={"unsubscribed": contact.unsubscribed | {channel}}) if changed[0] else None

        self._mutate(contact_id, change)
        return changed[0]

    # -------------------------------------------------------------- notes

    def add_note(self, contact_id: str, text: str, note_id: str, effect: Effect | None = None) -> bool:
        """Attach a note once per ``note_id``; False when that note already exists. With ``effect``
        the note is recorded (``{"note_id"}``) in the note's own transaction."""
        self.require(contact_id)
        at = clock.now()
        note = to_item(
            {
                "pk": _pk(contact_id),
                "sk": f"{NOTE_PREFIX}{_sortable(at)}#{note_id}",
                "note_id": note_id,
                "text": text,
                "at": clock.iso(at),
            }
        )
        marker = to_item({"pk": _pk(contact_id), "sk": f"NOTEID#{note_id}", "at": clock.iso(at)})
        recorded = (
            effect_writes(self.table, contact_id, effect.visit, effect.entry({"note_id": note_id})) if effect else []
        )
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self.table, "Item": note}},
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": marker,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    *recorded,
                ]
            )
        except ClientError as exc:
            if is_conflict(exc):
                raise WriteConflict(f"the note of contact {contact_id} met a concurrent write") from None
            if (
                _error_code(exc) == "TransactionCanceledException"
                and _cancellation_codes(exc)[1] == "ConditionalCheckFailed"
            ):
                return False
            if recorded and _error_code(exc) == "TransactionCanceledException":
                effect_refused(exc, 3)
            raise
        return True

    def notes(self, contact_id: str) -> list[dict[str, Any]]:
        """Notes, oldest first: ``{"note_id", "text", "at"}``."""
        return [
            {"note_id": item["note_id"], "text": item["text"], "at": item["at"]}
            for item in self._query(contact_id, NOTE_PREFIX)
        ]

    # -------------------------------------------------------------- history

    def record(
        self,
        contact_id: str,
        kind: str,
        detail: dict[str, Any] | None = None,
        *,
        map_id: str | None = None,
        step_id: str | None = None,
        at: datetime | None = None,
        enrollment_id: str | None = None,
    ) -> HistoryEntry:
        entry = HistoryEntry(
            at=at or clock.now(),
            kind=kind,
            detail=detail or {},
            map_id=map_id,
            step_id=step_id,
            enrollment_id=enrollment_id,
        )
        self._db.put_item(TableName=self.table, Item=_history_item(contact_id, entry))
        return entry

    def visit_effect(self, contact_id: str, visit: str) -> HistoryEntry | None:
        """What the visit ``visit`` (a step's idempotency key) recorded as its effect (Effect), if
        it made one: what a retry of that visit reports instead of acting again."""
        found = self._db.get_item(
            TableName=self.table, Key=to_item(_done_key(contact_id, visit)), ConsistentRead=True
        ).get("Item")
        return HistoryEntry.model_validate(from_item(found)) if found else None

    def record_effect(self, contact_id: str, effect: Effect, detail: dict[str, Any]) -> bool:
        """Record the visit's effect (its history entry and marker, one transaction) when the change
        itself needed no write; False when the visit had recorded it already."""
        try:
            self._db.transact_write_items(
                TransactItems=effect_writes(self.table, contact_id, effect.visit, effect.entry(detail))
            )
        except ClientError as exc:
            if is_conflict(exc):
                raise WriteConflict(f"the history of contact {contact_id} met a concurrent write") from None
            if _error_code(exc) == "TransactionCanceledException" and _cancellation_codes(exc)[-1:] == [
                "ConditionalCheckFailed"
            ]:
                return False
            raise
        return True

    def history(self, contact_id: str, kinds: Iterable[str] | None = None) -> list[HistoryEntry]:
        """History entries, oldest first; only the given kinds when ``kinds`` is given."""
        wanted = None if kinds is None else sorted(set(kinds))
        if wanted == []:
            return []
        return [HistoryEntry.model_validate(item) for item in self._query(contact_id, HISTORY_PREFIX, kinds=wanted)]

    def events(
        self,
        contact_id: str,
        kind: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[HistoryEntry]:
        """History entries of one ``kind`` in ``[since, until]`` (either open), by time.

        One strongly consistent query of the ByKind index: reading "opened this email in the
        last two days" costs the entries of that kind in that window, not the whole history. A
        kind the index does not hold (automaps.store.kinds) is read from the history's time range.
        """
        if not kinds.indexed(kind):
            return self._events_in_range(contact_id, kind, since, until, newest_first, limit)
        low = f"{kind}#{_sortable(since)}" if since else f"{kind}#"
        high = f"{kind}#{_sortable(until)}#~" if until else f"{kind}#~"
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": BY_KIND,
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND ksk BETWEEN :low AND :high",
            "ExpressionAttributeValues": to_item({":pk": _pk(contact_id), ":low": low, ":high": high}),
            "ScanIndexForward": not newest_first,
        }
        if limit is not None:
            params["Limit"] = limit
        return self._entries(params, limit)

    def _events_in_range(
        self,
        contact_id: str,
        kind: str,
        since: datetime | None,
        until: datetime | None,
        newest_first: bool,
        limit: int | None,
    ) -> list[HistoryEntry]:
        """``events`` for a kind the ByKind index does not hold: one strongly consistent query of the
        history's entries in ``[since, until]``, filtered to ``kind`` (the once-per-visit checks
        read the few entries since a visit began)."""
        low = f"{HISTORY_PREFIX}{_sortable(since)}" if since else HISTORY_PREFIX
        high = f"{HISTORY_PREFIX}{_sortable(until)}#~" if until else f"{HISTORY_PREFIX}~"
        params: dict[str, Any] = {
            "TableName": self.table,
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "FilterExpression": "#kind = :kind",
            "ExpressionAttributeNames": {"#kind": "kind"},
            "ExpressionAttributeValues": to_item({":pk": _pk(contact_id), ":low": low, ":high": high, ":kind": kind}),
            "ScanIndexForward": not newest_first,
        }
        return self._entries(params, limit)

    def _entries(self, params: dict[str, Any], limit: int | None) -> list[HistoryEntry]:
        """The history entries a Query returns, page by page, up to ``limit``."""
        entries: list[HistoryEntry] = []
        for page in self._db.get_paginator("query").paginate(**params):
            for item in page["Items"]:
                entries.append(HistoryEntry.model_validate(from_item(item)))
                if limit is not None and len(entries) >= limit:
                    return entries
        return entries

    def last_event(self, contact_id: str, kind: str) -> HistoryEntry | None:
        """The newest history entry of ``kind``, if any."""
        found = self.events(contact_id, kind, newest_first=True, limit=1)
        return found[0] if found else None

    # -------------------------------------------------------------- enrollments

    def create_enrollment(
        self,
        contact_id: str,
        map_id: str,
        enrollment_id: str,
        event: dict[str, Any],
        execution_arn: str | None = None,
        run: str | None = None,
    ) -> bool:
        """Store a new active enrollment; False when this enrollment id already exists. ``run``: the
        ARN its execution will have (the fence of its steps)."""
        enrollment = Enrollment(
            contact_id=contact_id,
            map_id=map_id,
            enrollment_id=enrollment_id,
            started_at=clock.now(),
            event=event,
            execution_arn=execution_arn,
            run=run,
        )
        item = {
            **_enrollment_key(contact_id, map_id, enrollment_id),
            **_without_none(enrollment.model_dump(mode="json")),
            "started_at": clock.iso(enrollment.started_at),
        }
        try:
            self._db.put_item(TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get_enrollment(self, contact_id: str, map_id: str, enrollment_id: str) -> Enrollment | None:
        found = self._db.get_item(
            TableName=self.table, Key=to_item(_enrollment_key(contact_id, map_id, enrollment_id)), ConsistentRead=True
        ).get("Item")
        return Enrollment.model_validate(from_item(found)) if found else None

    def enrollments(self, contact_id: str, map_id: str | None = None) -> list[Enrollment]:
        prefix = f"{ENROLL_PREFIX}{map_id}#" if map_id else ENROLL_PREFIX
        return [Enrollment.model_validate(item) for item in self._query(contact_id, prefix)]

    def mark_exited(
        self, contact_id: str, map_id: str, enrollment_id: str, reason: str, run: str | None = None
    ) -> bool:
        """Mark a live enrollment (active, paused or waiting) exited; False when it already had, or
        when ``run`` (the execution asking) no longer holds it (EnrollmentNotFound if none)."""
        condition = "attribute_exists(pk) AND #status IN (:active, :paused, :waiting)"
        values = {":exited": "exited", ":active": "active", ":paused": "paused", ":waiting": "waiting"}
        if run is not None:
            condition += " AND (attribute_not_exists(run) OR run = :run)"
            values[":run"] = run
        try:
            self._db.update_item(
                TableName=self.table,
                Key=to_item(_enrollment_key(contact_id, map_id, enrollment_id)),
                UpdateExpression="SET #status = :exited, exited_at = :at, exit_reason = :reason",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item({**values, ":at": clock.iso(), ":reason": reason}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise
            if not exc.response.get("Item"):
                raise EnrollmentNotFound(contact_id, map_id, enrollment_id) from None
            return False
        return True

    def set_execution_arn(self, contact_id: str, map_id: str, enrollment_id: str, execution_arn: str) -> None:
        try:
            self._db.update_item(
                TableName=self.table,
                Key=to_item(_enrollment_key(contact_id, map_id, enrollment_id)),
                UpdateExpression="SET execution_arn = :arn",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item({":arn": execution_arn}),
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                raise EnrollmentNotFound(contact_id, map_id, enrollment_id) from None
            raise

    # -------------------------------------------------------------- internals

    def _email_owner(self, email: str) -> str | None:
        found = self._db.get_item(TableName=self.table, Key=to_item(_marker_key(email)), ConsistentRead=True).get(
            "Item"
        )
        return from_item(found)["contact_id"] if found else None

    def _create(self, email: str, fields: dict[str, Any], tags: set[str], stale_owner: str | None) -> Contact | None:
        """Create the contact identified by ``email``; None when another writer took the address first."""
        return self._create_identified(
            "email", email, _marker_key(email), fields, tags, self._marker_condition(stale_owner)
        )

    def _create_identified(
        self,
        field: str,
        value: str,
        marker_key: dict[str, str],
        fields: dict[str, Any],
        tags: set[str],
        marker_condition: dict[str, Any],
    ) -> Contact | None:
        """Create the profile (with ``field`` = ``value``), its identity marker (EMAIL# or PHONE#)
        and ``contact.created`` in one transaction. None when the marker's condition fails: another
        writer holds that identity (the caller looks it up again)."""
        now = clock.now()
        contact = Contact(
            id=f"c_{uuid.uuid4().hex}",
            fields={**_plain(fields), field: value},
            tags=tags,
            created_at=now,
            updated_at=now,
        )
        marker = {
            "Put": {
                "TableName": self.table,
                "Item": to_item({**marker_key, "contact_id": contact.id}),
                **marker_condition,
            }
        }
        created = HistoryEntry(at=now, kind="contact.created", detail={"fields": sorted(contact.fields)})
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": _profile_item(contact),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    marker,
                    {"Put": {"TableName": self.table, "Item": _history_item(contact.id, created)}},
                ]
            )
        except ClientError as exc:
            if _error_code(exc) == "TransactionCanceledException":
                return None
            raise
        return contact

    @staticmethod
    def _marker_condition(stale_owner: str | None) -> dict[str, Any]:
        if stale_owner is None:
            return {"ConditionExpression": "attribute_not_exists(pk)"}
        return {
            "ConditionExpression": "contact_id = :stale",
            "ExpressionAttributeValues": to_item({":stale": stale_owner}),
        }

    def _merge(self, contact: Contact, fields: dict[str, Any], tags: set[str]) -> Contact:
        values = {k: v for k, v in _plain(fields).items() if k != "email"}

        def change(current: Contact) -> Contact | None:
            merged = {**current.fields, **values}
            if merged == current.fields and tags <= current.tags:
                return None
            return current.model_copy(update={"fields": merged, "tags": current.tags | tags})

        return self._mutate(contact.id, change, current=contact)

    def _mutate(
        self,
        contact_id: str,
        change: Callable[[Contact], Contact | None],
        current: Contact | None = None,
        effect: tuple[Effect, Callable[[Contact, Contact], dict[str, Any]]] | None = None,
    ) -> Contact:
        """Apply ``change`` (None: nothing to do) with a version check, re-reading on conflict.
        ``effect``: the visit's Effect and how to describe the change (before, after) on the history."""
        for attempt in range(_WRITE_ATTEMPTS):
            contact = current or self.require(contact_id)
            current = None
            changed = change(contact)
            if changed is None:
                return contact
            updated = changed.model_copy(update={"version": contact.version + 1, "updated_at": clock.now()})
            recorded = (
                effect_writes(self.table, contact_id, effect[0].visit, effect[0].entry(effect[1](contact, updated)))
                if effect
                else []
            )
            if self._write_profile(contact, updated, recorded):
                return updated
            _backoff(attempt)
        raise WriteConflict(f"contact {contact_id} kept changing; gave up after {_WRITE_ATTEMPTS} attempts")

    def _write_profile(self, before: Contact, after: Contact, recorded: list[dict[str, Any]] | None = None) -> bool:
        """Conditional on ``before.version``; moves the email marker when the address changes;
        writes the ``recorded`` items (an Effect's history entry and marker) in the same transaction.
        False when another writer got there first (the version moved, or a conflict)."""
        guard = {
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": to_item({":expected": before.version}),
        }
        profile = {"TableName": self.table, "Item": _profile_item(after), **guard}
        moves = self._email_moves(before, after)
        extra = recorded or []
        try:
            if moves or extra:
                self._db.transact_write_items(TransactItems=[{"Put": profile}, *moves, *extra])
            else:
                self._db.put_item(**profile)
        except ClientError as exc:
            code = _error_code(exc)
            if code == "ConditionalCheckFailedException" or is_conflict(exc):
                return False
            if code == "TransactionCanceledException":
                reasons = _cancellation_codes(exc)
                if reasons[0] == "ConditionalCheckFailed":
                    return False
                if moves and reasons[len(moves)] == "ConditionalCheckFailed":  # the new address's claim
                    raise EmailInUse(after.email or "") from None
                if extra:
                    effect_refused(exc, len(moves) + len(extra))
                return False
            raise
        return True

    def _email_moves(self, before: Contact, after: Contact) -> list[dict[str, Any]]:
        """Marker writes for an address change: release the old one, claim the new one (last)."""
        old, new = before.email, after.email
        if not new or (old and normalise_email(old) == normalise_email(new)):
            return []
        release = (
            [
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": to_item(_marker_key(old)),
                        "ConditionExpression": "contact_id = :me",
                        "ExpressionAttributeValues": to_item({":me": before.id}),
                    }
                }
            ]
            if old
            else []
        )
        claim = {
            "Put": {
                "TableName": self.table,
                "Item": to_item({**_marker_key(new), "contact_id": after.id}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        return [*release, claim]

    def _query(self, contact_id: str, prefix: str, kinds: list[str] | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_item({":pk": _pk(contact_id), ":prefix": prefix}),
        }
        if kinds:
            names = {f":k{i}": kind for i, kind in enumerate(kinds)}
            params["FilterExpression"] = f"#kind IN ({', '.join(names)})"
            params["ExpressionAttributeNames"] = {"#kind": "kind"}
            params["ExpressionAttributeValues"].update(to_item(names))
        items: list[dict[str, Any]] = []
        for page in self._db.get_paginator("query").paginate(**params):
            items.extend(from_item(item) for item in page["Items"])
        return items

    # -------------------------------------------------------------- events delivered more than once, suppression

    def record_once(
        self,
        contact_id: str,
        event_key: str,
        kind: str,
        detail: dict[str, Any] | None = None,
        *,
        map_id: str | None = None,
        step_id: str | None = None,
        at: datetime,
        enrollment_id: str | None = None,
    ) -> HistoryEntry | None:
        """Record an event its source may deliver more than once (SES through EventBridge, a
        retried request): the entry's sort key is its time and a digest of ``event_key``, written
        only if absent. None when this event was recorded before."""
        import hashlib

        entry = HistoryEntry(
            at=at, kind=kind, detail=detail or {}, map_id=map_id, step_id=step_id, enrollment_id=enrollment_id
        )
        item = _history_item(contact_id, entry, stamp=hashlib.sha256(event_key.encode()).hexdigest()[:24])
        try:
            self._db.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return entry

    def suppress_email(
        self,
        email: str,
        reason: SuppressionReason,
        *,
        at: datetime,
        message_id: str | None = None,
        hashed: bool = False,
    ) -> bool:
        """Never email ``email`` again (a permanent bounce, a complaint, an erased contact who asked).
        The mark belongs to the address, not to a contact (``SUPPRESSED#<address>``, or with
        ``hashed`` ``SUPPRESSED#sha256:<hex>``: :func:`suppression_hash`, what an erasure keeps);
        the first reason stays. False when the address already was suppressed that way."""
        item = to_item(
            _without_none(
                {**_suppression_key(email, hashed), "reason": reason, "at": clock.iso(at), "message_id": message_id}
            )
        )
        try:
            self._db.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def email_suppression(self, email: str) -> Suppression | None:
        """Why and since when ``email`` may not be emailed, or None if it may: the address's mark
        or its hash's (an erased contact's), in one strongly consistent BatchGetItem."""
        keys = [to_item(_suppression_key(email)), to_item(_suppression_key(email, hashed=True))]
        request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
        found: list[dict[str, Any]] = []
        for _ in range(5):
            answer = self._db.batch_get_item(RequestItems=request)
            found += answer.get("Responses", {}).get(self.table, [])
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            _backoff(1)
        else:  # a mark left unread must not read as "may be emailed"
            raise TransientError("DynamoDB left an address's suppression marks unread (throttled); try again")
        if not found:
            return None
        plain = sorted((from_item(item) for item in found), key=lambda item: str(item["pk"]).startswith(HASHED))
        return Suppression.model_validate(plain[0])

    def unsuppress_plain(self, email: str) -> None:
        """Delete the address's plain mark (an erasure, once the hashed mark is written)."""
        self._db.delete_item(TableName=self.table, Key=to_item(_suppression_key(email)))


SuppressionReason = Literal["bounced", "complained", "unsubscribed"]
HASHED = "SUPPRESSED#sha256:"


class Suppression(BaseModel):
    """An address that bounced for good, complained, or whose erased owner had unsubscribed or
    asked never to be emailed again: send_email skips it."""

    reason: SuppressionReason
    at: datetime
    message_id: str | None = None


def suppression_hash(email: str) -> str:
    """The unsalted SHA-256 (hex) of the address as markers key it (stripped, lowercased): what an
    erasure keeps of an address that must never be emailed again. Unsalted so any sender of the
    stack can check an address against it without a secret; it is pseudonymous, not anonymous
    (anyone holding the address can confirm it), which is what a suppression list needs."""
    import hashlib

    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


def _suppression_key(email: str, hashed: bool = False) -> dict[str, str]:
    if hashed:
        return {"pk": f"{HASHED}{suppression_hash(email)}", "sk": "SUPPRESSED"}
    return {"pk": f"SUPPRESSED#{normalise_email(email)}", "sk": "SUPPRESSED"}
