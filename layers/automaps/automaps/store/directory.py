"""Finding contacts for the admin API: by marker, by list or segment members, by tag, and pages of them.

* email / phone: one strongly consistent GetItem of the ``EMAIL#``/``PHONE#`` marker, then the profile;
* list / fulfillment list / segment: a Query of the ``LIST#<name>`` / ``FULFILL#<name>`` /
  ``SEGMENT#<id>`` member items (``CONTACT#<id>``), then one BatchGetItem of their profiles;
* tag: a **filtered Scan** (``sk = PROFILE AND contains(tags, :tag)``). Tags live only in the
  profile's list, and no index holds them; a sparse index (one ``TAG#<tag>`` item per tag, or a GSI)
  would have to be written by every tag change in every writer. An admin search is rare and
  paginated, so it reads the table page by page instead: each request reads at most
  :data:`SCAN_PAGE_ITEMS` items (about 1 MB, 128 RRU eventually consistent) and answers the matches
  on them with a cursor; the whole search costs the table's size / 4 KB x 0.5 RRU (a 5 GB table: about
  650,000 RRU, $0.16 on demand) however few contacts carry the tag. The same Scan, without the tag
  filter, is the "all contacts" export.

Cursors are opaque to callers: the URL-safe base64 of the page's LastEvaluatedKey (JSON), checked
on the way back in (:class:`BadCursor`).
"""

from __future__ import annotations

from typing import Any, Literal

from automaps import aws, config
from automaps.store.contacts import PROFILE, Contact, ContactStore, normalise_phone
from automaps.store.content import from_item, to_item
from automaps.store.tasks import BAD_CURSOR, BadCursor, decode_cursor, encode_cursor

MAX_PAGE = 500


def find(text: str) -> str | None:
    """The contact an email address, a phone number or a contact id names (None: nobody): one or
    two strongly consistent GetItems (the ``EMAIL#``/``PHONE#`` marker, then the profile). The
    admin API, ``automaps explain`` and the console all find contacts here."""
    found = find_contact(text)
    return found.id if found else None


def find_contact(text: str) -> Contact | None:
    """:func:`find`'s contact, with the profile it read."""
    value = (text or "").strip()
    if not value:
        return None
    store = ContactStore()
    if "@" in value:
        try:
            return store.find_by_email(value)
        except ValueError:
            return None
    if not value.startswith("c_"):
        try:
            normalise_phone(value)
        except ValueError:
            pass
        else:
            found = store.find_by_phone(value)
            if found is not None:
                return found
    return store.get(value)


SCAN_PAGE_ITEMS = 1000
"""Items a tag search or an export reads per request (before the filter)."""

Members = Literal["list", "fulfillment", "segment"]
MEMBER_PREFIX: dict[str, str] = {"list": "LIST#", "fulfillment": "FULFILL#", "segment": "SEGMENT#"}


class Directory:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or config.contacts_table()

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    def profiles(self, contact_ids: list[str]) -> list[Contact]:
        """The profiles of ``contact_ids`` that exist, in that order (BatchGetItem, 100 at a time)."""
        found: dict[str, Contact] = {}
        for start in range(0, len(contact_ids), 100):
            keys = [
                to_item({"pk": f"CONTACT#{cid}", "sk": PROFILE})
                for cid in dict.fromkeys(contact_ids[start : start + 100])
            ]
            request: dict[str, Any] = {self.table: {"Keys": keys}}
            while request:
                answer = self._db.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    contact = _contact(item)
                    found[contact.id] = contact
                request = answer.get("UnprocessedKeys") or {}
        return [found[cid] for cid in contact_ids if cid in found]

    def members(self, kind: Members, name: str, limit: int, cursor: str | None) -> tuple[list[Contact], str | None]:
        """One page of a list's, fulfillment list's or segment's members (a Query of its member items)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :contact)",
            "ExpressionAttributeValues": to_item({":pk": f"{MEMBER_PREFIX[kind]}{name}", ":contact": "CONTACT#"}),
            "ProjectionExpression": "pk, sk",
            "Limit": limit,
        }
        start = decode_cursor(cursor, {"pk", "sk"}) if cursor else None
        if start:
            params["ExclusiveStartKey"] = start
        answer = self._db.query(**params)
        ids = [str(from_item(item)["sk"]).removeprefix("CONTACT#") for item in answer["Items"]]
        return self.profiles(ids), encode_cursor(answer.get("LastEvaluatedKey"))

    def scan_profiles(
        self, tag: str | None, cursor: str | None, limit: int = SCAN_PAGE_ITEMS
    ) -> tuple[list[Contact], str | None]:
        """The profiles (with ``tag``, when given) among the next ``limit`` items of the table, and
        where the Scan goes on (None at its end). A page may hold no match and still a cursor."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "Limit": limit,
            "FilterExpression": "sk = :profile",
            "ExpressionAttributeValues": to_item({":profile": PROFILE}),
        }
        if tag:
            params["FilterExpression"] += " AND contains(tags, :tag)"
            params["ExpressionAttributeValues"].update(to_item({":tag": tag}))
        start = decode_cursor(cursor, {"pk", "sk"}) if cursor else None
        if start:
            params["ExclusiveStartKey"] = start
        answer = self._db.scan(**params)
        return [_contact(item) for item in answer["Items"]], encode_cursor(answer.get("LastEvaluatedKey"))

    def contact_items(self, contact_id: str) -> list[dict[str, Any]]:
        """Every item under ``CONTACT#<id>`` (profile, history, enrollments, markers...), plain, by sort key."""
        items: list[dict[str, Any]] = []
        params = {
            "TableName": self.table,
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": f"CONTACT#{contact_id}"}),
        }
        for page in self._db.get_paginator("query").paginate(**params):
            items.extend(from_item(item) for item in page["Items"])
        return items

    def prefixed(self, contact_id: str, prefix: str) -> list[dict[str, Any]]:
        """The contact's items whose sort key begins with ``prefix`` (LIST#, SEGMENT#, ...)."""
        params = {
            "TableName": self.table,
            "ConsistentRead": True,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_item({":pk": f"CONTACT#{contact_id}", ":prefix": prefix}),
        }
        items: list[dict[str, Any]] = []
        for page in self._db.get_paginator("query").paginate(**params):
            items.extend(from_item(item) for item in page["Items"])
        return items

    def history_page(self, contact_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the contact's history entries, newest first."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :h)",
            "ExpressionAttributeValues": to_item({":pk": f"CONTACT#{contact_id}", ":h": "H#"}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_cursor(cursor, {"pk", "sk"}) if cursor else None
        if start:
            if not str(from_item(start)["pk"]) == f"CONTACT#{contact_id}":
                raise BadCursor(BAD_CURSOR)
            params["ExclusiveStartKey"] = start
        answer = self._db.query(**params)
        return [from_item(item) for item in answer["Items"]], encode_cursor(answer.get("LastEvaluatedKey"))

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        found = self._db.get_item(TableName=self.table, Key=to_item({"pk": pk, "sk": sk}), ConsistentRead=True)
        return from_item(found["Item"]) if "Item" in found else None


def _contact(item: dict[str, Any]) -> Contact:
    plain = from_item(item)
    return Contact.model_validate({k: v for k, v in plain.items() if k not in ("pk", "sk")})
