"""The date index kept current from the event route (issue 10, "Schedules": "index the dates"):
on moto, the entries the stores write reach the router through the contacts table's stream, and
``journeys.dates.route`` keeps one index item per contact and date field a registered date
trigger reads, in the contact's zone group; a changed date or timezone moves it, a cleared date
removes it, a redelivered entry changes nothing, and a value that is not a date is ignored."""

from __future__ import annotations

import logging
from collections import Counter

from automaps import aws as aws_clients
from automaps.intake import forms
from automaps.journeys import dates, router
from automaps.store.contacts import ContactStore, HistoryEntry
from automaps.store.content import ContentStore, from_item, to_item
from automaps.store.dates import SHARDS, DateIndexStore, Indexed, index_pk, shard
from tests.dates.helpers import contact, date_map, reached, update, when
from tests.dates.test_page import day

PROFILE_FORM = {"id": "profile", "honeypot": None, "fields": [
    {"name": "email", "type": "email", "required": True}, {"name": "birthday", "type": "date"},
    {"name": "timezone", "type": "timezone"}]}


def index_items(field: str = "birthday") -> list[tuple[str, str]]:
    """Every index item of ``field`` in the table: (pk, sk)."""
    table = DateIndexStore().table
    items = aws_clients.client("dynamodb").scan(TableName=table)["Items"]
    return sorted((str(i["pk"]["S"]), str(i["sk"]["S"])) for i in items
                  if str(i["pk"]["S"]).startswith(f"DATE#{field}#"))


def counting() -> list[str]:
    calls: list[str] = []
    aws_clients.client("dynamodb").meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name))
    return calls


def test_given_a_birthday_map_when_a_contact_is_created_with_a_birthday_then_one_index_item_holds_it(aws, clock):
    # GIVEN a map on the birthday field
    date_map("date_matches", {"field": "birthday"})

    # WHEN a contact is created with a birthday and a timezone (contact.created is routed)
    jane = contact("jane@example.com", birthday="1990-05-17", timezone="Europe/Paris")

    # THEN one index item in 17 May's partition of the contact's shard, in the Paris group
    assert index_items() == [(index_pk("birthday", "05-17", shard(jane)), f"Europe/Paris#1990-05-17#{jane}")]
    assert DateIndexStore().indexed(jane) == {"birthday": Indexed("birthday", "1990-05-17", "Europe/Paris")}
    assert DateIndexStore().zones() == ["Europe/Paris"]


def test_given_a_new_contact_then_its_upkeep_costs_a_read_a_query_and_one_transaction(aws, clock):
    # GIVEN a contact created with a birthday before any map read it (nothing indexed), then a map
    jane = contact("jane@example.com", birthday="1990-05-17", timezone="Europe/Paris")
    [created] = [h for h in ContactStore()._query(jane, "H#") if h["kind"] == "contact.created"]
    date_map("date_matches", {"field": "birthday"})
    dates.indexed_fields()  # the registry, read at most once a minute
    calls = counting()

    # WHEN its contact.created entry is routed
    assert dates.route(jane, created["sk"], HistoryEntry.model_validate(created)) == ["birthday"]

    # THEN one profile read, one Query of its index items, the zone's first put in this process
    # (the zones in use), one transaction (the contact-side item and the index item)
    assert calls == ["GetItem", "Query", "PutItem", "TransactWriteItems"]


def test_given_an_indexed_contact_when_update_contact_changes_the_date_and_the_timezone_then_the_item_moves(
        aws, clock):
    record, trigger = date_map("date_matches", {"field": "birthday"})
    joe = contact("joe@example.com", birthday="1990-05-17", timezone="Europe/Paris")

    # WHEN a map's update_contact step changes the birthday (contact.updated through the stream)
    update(joe, {"birthday": "1991-09-03"})
    # THEN the old item is gone and the new one is in 3 September's partition
    assert index_items() == [(index_pk("birthday", "09-03", shard(joe)), f"Europe/Paris#1991-09-03#{joe}")]

    # WHEN the timezone changes: the item moves to the New York group, and the contact is reached
    # at 09:00 New York (13:00 UTC), not at 09:00 Paris
    update(joe, {"timezone": "America/New_York"})
    assert index_items() == [(index_pk("birthday", "09-03", shard(joe)), f"America/New_York#1991-09-03#{joe}")]
    found = reached(record, trigger, [day("2026-09-03T07:00:00"), day("2026-09-03T13:00:00")])
    assert when(found, joe) == ["2026-09-03T13:00Z"]

    # WHEN the timezone is cleared: the map's timezone applies (the "-" group)
    update(joe, clear=("timezone",))
    assert index_items() == [(index_pk("birthday", "09-03", shard(joe)), f"-#1991-09-03#{joe}")]

    # WHEN the birthday is cleared: no item is left, on either side
    update(joe, clear=("birthday",))
    assert index_items() == [] and DateIndexStore().indexed(joe) == {}


def test_given_an_indexed_contact_when_the_entry_is_delivered_again_then_nothing_is_written(aws, clock):
    date_map("date_matches", {"field": "birthday"})
    ann = contact("ann@example.com", birthday="1990-05-17", timezone="Europe/Paris")
    update(ann, {"birthday": "1990-05-18"})
    [entry] = [h for h in ContactStore()._query(ann, "H#") if h["kind"] == "contact.updated"]
    calls = counting()

    # WHEN the stream delivers the contact.updated entry once more
    router.route_entry(ann, entry["sk"], HistoryEntry.model_validate(entry))

    # THEN the index is as before and nothing was written for it
    assert index_items() == [(index_pk("birthday", "05-18", shard(ann)), f"Europe/Paris#1990-05-18#{ann}")]
    assert "TransactWriteItems" not in calls and "PutItem" not in calls


def test_given_entries_that_cannot_change_a_date_then_the_upkeep_reads_nothing(aws, clock):
    date_map("date_matches", {"field": "birthday"})
    bob = contact("bob@example.com", birthday="1990-05-17")
    calls = counting()

    # WHEN a page visit, a step's bookkeeping and a change of another field are routed
    for kind, detail in (("page.visited", {"url": "https://x"}), ("step.done", {}),
                         ("contact.updated", {"set": ["first_name"], "cleared": []})):
        assert dates.route(bob, "H#x", HistoryEntry(at=clock.now(), kind=kind, detail=detail)) == []

    # THEN the date upkeep made no request
    assert calls == []


def test_given_no_map_reads_a_field_then_it_is_not_indexed(aws, clock):
    date_map("date_relative", {"field": "renewal_date", "days_before": 3})
    kim = contact("kim@example.com", birthday="1990-05-17", renewal_date="2027-01-31")

    assert index_items("birthday") == []
    assert index_items("renewal_date") == [(index_pk("renewal_date", "01-31", shard(kim)), f"-#2027-01-31#{kim}")]


def test_given_a_date_field_that_is_not_a_date_then_it_is_ignored_with_a_log_line(aws, clock, caplog):
    date_map("date_matches", {"field": "birthday"})

    with caplog.at_level(logging.WARNING):
        odd = contact("odd@example.com", birthday="next tuesday", timezone="Europe/Paris")

    assert index_items() == [] and DateIndexStore().indexed(odd) == {}
    assert any("not a date" in r.getMessage() for r in caplog.records)
    assert all("odd@example.com" not in r.getMessage() for r in caplog.records)


def test_given_a_form_when_it_creates_and_then_updates_a_contacts_birthday_then_the_index_follows(aws, clock):
    # GIVEN a birthday map and a form with a birthday and a timezone (a form's update of an
    # existing contact writes only form.submitted: the upkeep reads the profile it names)
    date_map("date_matches", {"field": "birthday"})
    ContentStore().put("FORM", "profile", PROFILE_FORM)

    first = forms.submit("profile", {"email": "form@example.com", "birthday": "1990-05-17",
                                     "timezone": "Asia/Kolkata"})
    someone = first.contact_id
    assert index_items() == [(index_pk("birthday", "05-17", shard(someone)), f"Asia/Kolkata#1990-05-17#{someone}")]

    forms.submit("profile", {"email": "form@example.com", "birthday": "1990-06-01", "timezone": "Europe/Paris"})
    assert index_items() == [(index_pk("birthday", "06-01", shard(someone)), f"Europe/Paris#1990-06-01#{someone}")]


def test_given_many_contacts_born_on_one_day_then_their_items_spread_over_the_shards(aws, clock):
    # GIVEN 160 contacts in one zone born on the same day (one day's partition of the field)
    date_map("date_matches", {"field": "birthday"})
    for i in range(160):
        contact(f"s{i}@example.com", birthday="1990-01-01", timezone="UTC")

    # THEN every shard holds some, none more than a quarter (an even spread is 20 each)
    per_shard = Counter(pk for pk, _ in index_items())
    assert len(per_shard) == SHARDS and max(per_shard.values()) <= 40


def test_index_items_are_plain_items_of_the_contacts_table(aws, clock):
    # the index needs no template change: its items are in the ContactsTable, keyed by pk/sk
    date_map("date_matches", {"field": "birthday"})
    lee = contact("lee@example.com", birthday="1990-05-17")
    item = aws_clients.client("dynamodb").get_item(
        TableName=DateIndexStore().table,
        Key=to_item({"pk": index_pk("birthday", "05-17", shard(lee)), "sk": f"-#1990-05-17#{lee}"}))["Item"]
    assert from_item(item)["contact_id"] == lee
