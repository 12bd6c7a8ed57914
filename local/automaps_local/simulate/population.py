"""Who is simulated: one contact (a JSON file or inline JSON), many (JSONL or CSV), or the members
of a segment of a deployed stack.

Each contact is its fields as a form would post them (``email`` is required: the simulation finds
the contact by it). Two keys are not fields: ``_events``, events of this contact only (a list of
event texts in JSON/JSONL; in CSV one cell, the texts separated by ``;``), and ``_tags`` (tags the
contact has before it enters; a list, or ``;``-separated in CSV).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENTS_KEY = "_events"
TAGS_KEY = "_tags"


class PopulationError(ValueError):
    """Contacts that cannot be read; the message names the file and the line."""


@dataclass
class Person:
    fields: dict[str, Any]
    events: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    where: str = ""  # file:line, for messages

    @property
    def email(self) -> str:
        return str(self.fields["email"])


def one(text: str) -> list[Person]:
    """``--contact``: a JSON file's path, or the JSON object itself."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return [_person(_json(stripped, "--contact"), "--contact")]
    path = Path(text)
    if not path.is_file():
        raise PopulationError(
            f"--contact {text!r}: no such file (give a JSON file or inline JSON such as '{{\"email\": ...}}')"
        )
    return [_person(_json(path.read_text(encoding="utf-8"), str(path)), str(path))]


def many(path: Path) -> list[Person]:
    """``--contacts``: a JSONL file (one object a line; or a JSON array), or a CSV file (a header
    line of field names)."""
    if not path.is_file():
        raise PopulationError(f"--contacts {path}: no such file")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        people = _csv(path, text)
    elif text.lstrip().startswith("["):  # a JSON array of contacts
        items = _json(text, str(path))
        people = [_person(item, f"{path}[{index}]") for index, item in enumerate(items)]
    elif path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        people = [
            _person(_json(line, f"{path}:{number}"), f"{path}:{number}")
            for number, line in enumerate(text.splitlines(), 1)
            if line.strip()
        ]
    else:
        raise PopulationError(f"--contacts {path}: use a .jsonl or .csv file")
    if not people:
        raise PopulationError(f"--contacts {path}: no contacts in it")
    seen: dict[str, str] = {}
    for person in people:
        key = person.email.strip().lower()
        if key in seen:
            raise PopulationError(f"{person.where}: email is already used by {seen[key]}; each contact needs its own")
        seen[key] = person.where
    return people


def _csv(path: Path, text: str) -> list[Person]:
    rows = csv.DictReader(text.splitlines())
    people = []
    for number, row in enumerate(rows, 2):
        where = f"{path}:{number}"
        if None in row:
            raise PopulationError(f"{where}: more cells than the header names")
        values: dict[str, Any] = {key: value for key, value in row.items() if key and value not in (None, "")}
        for key in (EVENTS_KEY, TAGS_KEY):
            if key in values:
                values[key] = [part.strip() for part in str(values[key]).split(";") if part.strip()]
        people.append(_person(values, where))
    return people


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise PopulationError(f"{where}: not JSON ({error})") from None


def _person(data: Any, where: str) -> Person:
    if not isinstance(data, dict):
        raise PopulationError(
            f'{where}: a contact is a JSON object of its fields, e.g. {{"email": "jane@example.com"}}'
        )
    fields = dict(data)
    events, tags = fields.pop(EVENTS_KEY, []), fields.pop(TAGS_KEY, [])
    for key, value in ((EVENTS_KEY, events), (TAGS_KEY, tags)):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise PopulationError(f"{where}: {key} is a list of texts")
    if not isinstance(fields.get("email"), str) or "@" not in fields["email"]:
        raise PopulationError(f"{where}: the contact has no email (the simulation finds the contact by it)")
    return Person(fields, list(events), list(tags), where)


def segment(name: str, stack_name: str, region: str | None, limit: int | None = None) -> list[Person]:
    """The members of segment ``name`` on the deployed stack (their fields and tags), read before
    the local runtime starts; the simulation then runs them locally."""
    from botocore.exceptions import BotoCoreError, ClientError

    from automaps.store.contacts import ContactStore
    from automaps.store.content import ContentStore
    from automaps.store.segments import CONTENT_KIND, SegmentStore
    from automaps_local.observe import plain
    from automaps_local.test_email import use_stack

    try:
        use_stack(stack_name, region)
        if ContentStore().get(CONTENT_KIND, name) is None:
            raise PopulationError(f"--segment {name!r}: stack {stack_name} has no such segment pushed")
        contacts, people = ContactStore(), []
        for member in SegmentStore().members(name, limit=limit):
            contact = contacts.get(member["contact_id"])
            if contact is None or not contact.email:  # erased since, or reachable by phone only
                continue
            fields = json.loads(json.dumps(plain(contact.fields), default=str))  # Decimal, dates: as a form posts
            people.append(Person(fields, [], sorted(contact.tags), f"segment {name}: {member['contact_id']}"))
    except (BotoCoreError, ClientError) as error:
        raise PopulationError(f"--segment {name!r} of stack {stack_name}: {error}") from None
    if not people:
        raise PopulationError(f"--segment {name!r}: no member of it on stack {stack_name} has an email")
    return people
