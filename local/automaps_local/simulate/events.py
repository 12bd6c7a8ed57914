"""What happens to a simulated contact, and when: ``--event "after 1 day: opened welcome-email"``.

An event is ``after <amount> <unit> [<amount> <unit>...]: <what>``, the moment counted from the
contact's entry (units: minutes, hours, days, weeks; ``after 1 day 2 hours: ...``). ``<what>``:

* ``opened|clicked|delivered|bounced|complained <email> [link=URL]``: SES publishes that event of
  the latest email the contact got from ``<email>`` (a send_email step's id or a template name)
  through the configuration set's EventBridge destination (``LocalRuntime.ses_event``);
* ``form <form> [field=value ...]``: the contact's fields (and these) posted to ``/forms/<form>``;
* ``tag <tag> [<tag> ...]``, ``untag <tag> [...]``: the tags changed, with their ``tags.changed``
  history entry, as a step would;
* ``<type> [<product|course|platform>] [key=value ...]``: an event posted to ``/ingest/events``,
  signed with the stack's ingestion secret: ``purchase.made course-101`` (price 0.00 USD and an
  order id unless given), ``course.completed copywriting price=...``, or a custom
  ``<namespace>.<name>`` whose key=value pairs become its ``data``.

Every text is checked before anything runs (:func:`parse`): a bad one is an :class:`EventError`
naming it. What cannot be known before (no such email was sent yet) is reported as a note of
the contact's run (:func:`inject` returns it).
"""

from __future__ import annotations

import json
import re
import shlex
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automaps.maps.model import Map
    from automaps_local.runtime import LocalRuntime

SES_EVENTS = {
    "opened": "Open",
    "clicked": "Click",
    "delivered": "Delivery",
    "bounced": "Bounce",
    "complained": "Complaint",
}
UNITS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_UNIT_WORDS = {"m": "minute", "min": "minute", "h": "hour", "d": "day", "w": "week"}
_EVENT = re.compile(r"^\s*after\s+(?P<when>[^:]+?)\s*:\s*(?P<what>.*?)\s*$", re.IGNORECASE)
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)", re.IGNORECASE)
_DELAY = re.compile(r"(\s*\d+(?:\.\d+)?\s*[a-z]+\s*(?:,|\band\b)?)+", re.IGNORECASE)
_MAIN_FIELDS = ("product", "course", "platform")
EXAMPLES = (
    '"after 1 day: opened welcome-email", "after 2 hours: clicked welcome-email", '
    '"after 3 days: purchase.made course-101", "after 1 day: form newsletter", "after 5 days: tag vip", '
    '"after 1 day: shop.cart_abandoned cart=c1 total=20"'
)


class EventError(ValueError):
    """An event text that cannot be used; the message quotes it."""


@dataclass(frozen=True)
class Event:
    text: str
    after: timedelta
    verb: str  # an SES_EVENTS key, "form", "tag", "untag" or "ingest"
    name: str = ""  # the email (step id or template), the form, or the ingest type
    values: dict[str, Any] = field(default_factory=dict)  # key=value pairs (ingest: the event's fields)
    tags: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.text


def parse(text: str, map_: Map | None = None) -> Event:
    """The event ``text`` means, checked against ``map_`` (the emails it can name)."""
    match = _EVENT.match(text)
    if not match or not match.group("what"):
        raise EventError(f"event {text!r}: write it as 'after <n> <minutes|hours|days|weeks>: <what>', e.g. {EXAMPLES}")
    after = _delay(text, match.group("when"))
    try:
        words = shlex.split(match.group("what"))
    except ValueError as error:
        raise EventError(f"event {text!r}: {error}") from None
    verb, rest = words[0], words[1:]
    positional = [word for word in rest if "=" not in word]
    values = _values(text, [word for word in rest if "=" in word])
    if verb.lower() in SES_EVENTS:
        verb = verb.lower()
        if len(positional) != 1 or set(values) - {"link"}:
            raise EventError(f"event {text!r}: write '{verb} <send_email step or template> [link=URL]'")
        _check_email(text, positional[0], map_)
        return Event(text, after, verb, positional[0], values)
    if verb in ("tag", "untag"):
        if not positional or values:
            raise EventError(f"event {text!r}: write '{verb} <tag> [<tag> ...]'")
        return Event(text, after, verb, tags=tuple(positional))
    if verb == "form":
        if len(positional) != 1:
            raise EventError(f"event {text!r}: write 'form <form id> [field=value ...]'")
        return Event(text, after, "form", positional[0], values)
    return _ingest(text, after, verb, positional, values)


def _delay(text: str, when: str) -> timedelta:
    if not _DELAY.fullmatch(when):
        raise EventError(f"event {text!r}: {when!r} is not a delay such as '1 day', '2 hours' or '1 day 6 hours'")
    seconds = 0.0
    for amount, unit in _AMOUNT.findall(when):
        word = _UNIT_WORDS.get(unit.lower(), unit.lower().removesuffix("s"))
        if word not in UNITS:
            raise EventError(f"event {text!r}: unknown unit {unit!r}; use minutes, hours, days or weeks")
        seconds += float(amount) * UNITS[word]
    return timedelta(seconds=seconds)


def _values(text: str, pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        if not key:
            raise EventError(f"event {text!r}: {pair!r} has no key before '='")
        values[key] = _scalar(raw)
    return values


def _scalar(raw: str) -> Any:
    """``20`` -> 20, ``true`` -> True, ``null`` -> None, anything else the text itself."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, int | float | bool) or value is None else raw


def emails_of(map_: Map) -> dict[str, str]:
    """The send_email steps of ``map_``: step id -> template name."""
    from automaps.maps.model import ActionStep, walk

    found = {}
    for ref in walk(map_):
        step = ref.step
        if isinstance(step, ActionStep) and step.action == "send_email" and step.id:
            found[step.id] = str(getattr(step.settings, "template", None) or "")
    return found


def _check_email(text: str, name: str, map_: Map | None) -> None:
    if map_ is None:
        return
    emails = emails_of(map_)
    if name not in emails and name not in emails.values():
        known = ", ".join(sorted({*emails, *filter(None, emails.values())})) or "none"
        raise EventError(
            f"event {text!r}: {name!r} is neither a send_email step nor a template of map {map_.id!r} "
            f"(its emails: {known})"
        )


def _ingest(text: str, after: timedelta, kind: str, positional: list[str], values: dict[str, Any]) -> Event:
    from automaps.intake import ingest

    known = ", ".join([*SES_EVENTS, "form", "tag", "untag"])
    if not re.fullmatch(ingest.CUSTOM_TYPE, kind):
        raise EventError(
            f"event {text!r}: {kind!r} is not something that can happen; use one of {known}, an event type "
            f"({', '.join(ingest.EVENT_TYPES)}) or a custom <namespace>.<name>"
        )
    model = ingest.EVENT_TYPES.get(kind)
    if model is None:  # a custom event: key=value pairs are its data
        if positional:
            raise EventError(f"event {text!r}: a custom event takes key=value pairs only, not {positional[0]!r}")
        fields: dict[str, Any] = {"data": values} if values else {}
    else:
        main = next((name for name in _MAIN_FIELDS if name in model.model_fields), None)
        if len(positional) > (1 if main else 0):
            raise EventError(f"event {text!r}: {kind} takes {'one ' + main if main else 'no'} word before key=value")
        fields = {**_defaults(model), **({main: positional[0]} if positional and main else {}), **values}
    raw = {"id": "sim-check", "type": kind, "email": "sim@example.com", "occurred_at": _now_text(), **fields}
    try:
        ingest.parse_event(raw)
    except ingest.Rejected as error:
        raise EventError(f"event {text!r}: {error}") from None
    return Event(text, after, "ingest", kind, fields)


def _defaults(model: Any) -> dict[str, Any]:
    """Values the simulation fills in when the event text does not give them."""
    fields = model.model_fields
    defaults: dict[str, Any] = {}
    if "order_id" in fields and fields["order_id"].is_required():
        defaults["order_id"] = "sim-order"
    for amount in ("price", "amount"):
        if amount in fields and fields[amount].is_required():
            defaults[amount] = "0.00"
            defaults["currency"] = "USD"
    return defaults


def _now_text() -> str:
    return datetime.now(UTC).isoformat()


# ---------------------------------------------------------------------- injecting
def inject(runtime: LocalRuntime, api: Any, contact: dict[str, Any], event: Event) -> str | None:
    """Make ``event`` happen to ``contact`` (its fields) now, on the runtime's real paths; a note
    when it could not happen (no such email was sent to the contact), else None."""
    from automaps_local import observe

    email = str(contact.get("email") or "")
    contact_id = observe.contact_id_for(email) if email else None
    if event.verb == "form":
        response = api.post(f"/forms/{event.name}", json={**contact, **event.values})
        return None if response.status_code < 400 else f"{event}: the form answered {response.status_code}"
    if contact_id is None:
        return f"{event}: the contact does not exist yet"
    if event.verb in SES_EVENTS:
        return _ses(runtime, email, event)
    if event.verb in ("tag", "untag"):
        from automaps.store.contacts import ContactStore, Effect

        change = {"add": event.tags} if event.verb == "tag" else {"remove": event.tags}
        effect = Effect(visit=f"simulate:{uuid.uuid4().hex}", kind="tags.changed")
        ContactStore().change_tags(contact_id, effect=effect, **change)
        return None
    return _post_ingest(api, contact_id, event)


def _ses(runtime: LocalRuntime, email: str, event: Event) -> str | None:
    sent = [
        m
        for m in runtime.outbox()["emails"]
        if email.lower() in (a.lower() for a in m["to"]) and event.name in (m.get("step_id"), m.get("template"))
    ]
    if not sent:
        return f"{event}: no email from {event.name!r} was sent to the contact by then"
    try:
        runtime.ses_event(sent[-1]["id"], SES_EVENTS[event.verb], link=event.values.get("link"))
    except (LookupError, ValueError) as error:
        return f"{event}: {error}"
    return None


def _post_ingest(api: Any, contact_id: str, event: Event) -> str | None:
    from automaps import clock, secrets
    from automaps.intake.ingest import signature

    body = {
        "id": f"sim-{uuid.uuid4().hex}",
        "type": event.name,
        "contact_id": contact_id,
        "occurred_at": clock.iso(),
        **event.values,
    }
    if body.get("order_id") == "sim-order":
        body["order_id"] = f"sim-{uuid.uuid4().hex[:12]}"
    data = json.dumps(body).encode()
    import os

    header = signature(secrets.get(os.environ["INGEST_SECRET_ARN"]), data, int(clock.now().timestamp()))
    response = api.post(
        "/ingest/events", data=data, headers={"Content-Type": "application/json", "Automaps-Signature": header}
    )
    answer = response.get_json(silent=True) or {}
    if response.status_code >= 400 or answer.get("rejected"):
        return f"{event}: /ingest/events answered {response.status_code} {response.get_data(as_text=True)[:200]}"
    return None
