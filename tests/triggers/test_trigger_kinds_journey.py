"""Every trigger kind end to end on the local runtime: a history entry written as the stores
write it reaches RouteEventsFunction through the contacts table's stream, the router queues the
enrollment, EnrollFunction starts the map's state machine, which runs to its end with the entry as
its event. One runtime, one map per trigger kind (the cases of events/triggers/entries.json); the
matching contact enters the map once, caused by that entry, the other contact not. (The maps'
steps write nothing that a trigger listens to, so no map starts another; merge fields of a
routed trigger's event: tests/triggers/test_triggered_journeys.py.)"""

from __future__ import annotations

import json

import pytest
import yaml

from automaps.store.contacts import ContactStore
from tests.conftest import load_event
from tests.triggers.routing import a_contact, written

pytestmark = pytest.mark.slow

CASES = {  # each case's own map stands where the fixtures name the map under test
    name: json.loads(json.dumps(case).replace('"under-test"', json.dumps("t-" + name.replace("_", "-")[:40])))
    for name, case in load_event("triggers/entries.json").items()
}


def map_id(name: str) -> str:
    return "t-" + name.replace("_", "-")[:40]


def test_given_a_map_per_trigger_kind_when_each_entry_is_written_then_its_contact_runs_that_map_once(
        runtime, tmp_path):
    # GIVEN two contacts per trigger kind (created before any map exists, so contact.created starts nothing)
    people = {name: (a_contact(f"match-{i}@example.com", case.get("matching_contact")),
                     a_contact(f"other-{i}@example.com", case.get("other_contact")))
              for i, (name, case) in enumerate(sorted(CASES.items()))}
    runtime.run_until_settled(timeout=60)
    # AND a map per kind that waits a minute and ends
    for name, case in CASES.items():
        path = tmp_path / f"{map_id(name)}.yaml"
        path.write_text(yaml.safe_dump({
            "id": map_id(name), "name": f"Started by {name}", "triggers": [case["trigger"]],
            "steps": [{"wait": {"minutes": 1}}, "end"]}))
        runtime.stack.deploy_map(path)

    # WHEN each matching entry is written on its contact's history, and the other entry on the other's
    entries = {}
    for name, case in CASES.items():
        matching, other = people[name]
        entries[name] = written(matching, case["matching"])[0], written(other, case["other"])[0]
    assert runtime.run_until_settled(timeout=300)

    # THEN every map ran for its matching contact, once, caused by that entry, to its end
    store = ContactStore()
    for name, case in CASES.items():
        (matching, other), (matching_entry, other_entry) = people[name], entries[name]
        found = store.enrollments(matching, map_id(name))
        assert [e.event.get("entry") for e in found] == [matching_entry], (name, [e.event for e in found])
        [enrolled] = [e for e in found if e.event.get("entry") == matching_entry]
        assert (enrolled.status, enrolled.exit_reason, enrolled.event["kind"]) == (
            "exited", "end", case["matching"]["kind"]), name
        assert [e for e in store.enrollments(other, map_id(name)) if e.event.get("entry") == other_entry] == [], name
    statuses = {e["status"] for m in CASES for e in runtime.executions(map_id(m))}
    assert statuses == {"SUCCEEDED"}
