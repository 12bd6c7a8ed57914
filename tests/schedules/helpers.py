"""What the schedule specifications share: their maps, audiences, and what to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automaps import aws
from automaps.store.contacts import ContactStore
from automaps.store.lists import ListStore
from tests.segments.helpers import VIP, pushed

FIXTURES = Path(__file__).parent / "fixtures"


def deploy(runtime: Any, map_id: str) -> None:
    """GIVEN the map tests/schedules/fixtures/<map_id>.yaml deployed (registered: its schedules made)."""
    runtime.stack.deploy_map(FIXTURES / f"{map_id}.yaml")


def vip_members(runtime: Any, root: Path, count: int, others: int = 1) -> list[str]:
    """GIVEN the segment "vip" and ``count`` contacts in it (and ``others`` not), kept by the router."""
    pushed(root, VIP)
    store, members = ContactStore(), []
    for i in range(count):
        contact, _ = store.upsert_by_email(f"vip{i}@example.com", {"first_name": f"V{i}"}, ["vip"])
        members.append(contact.id)
    for i in range(others):
        store.upsert_by_email(f"other{i}@example.com", {"first_name": f"O{i}"})
    assert runtime.run_until_settled(timeout=120)
    return sorted(members)


def list_members(name: str, count: int) -> list[str]:
    """GIVEN ``count`` contacts on the list ``name``."""
    store, lists, members = ContactStore(), ListStore(), []
    for i in range(count):
        contact, _ = store.upsert_by_email(f"{name}{i}@example.com", {"first_name": f"L{i}"})
        lists.add("list", name, contact.id)
        members.append(contact.id)
    return sorted(members)


def starts(contact_id: str, map_id: str) -> list[str]:
    """When the contact's enrollments in the map were started by an occurrence (its time), oldest first."""
    return sorted(e.event["at"] for e in ContactStore().enrollments(contact_id, map_id))


def schedules(group_suffix: str = "-starts") -> list[dict[str, Any]]:
    """The schedules of the starts group: name, expression, timezone, state."""
    scheduler = aws.client("scheduler")
    found = []
    for summary in scheduler.list_schedules()["Schedules"]:
        if not summary["GroupName"].endswith(group_suffix):
            continue
        full = scheduler.get_schedule(GroupName=summary["GroupName"], Name=summary["Name"])
        found.append({k: full.get(k) for k in ("Name", "ScheduleExpression", "ScheduleExpressionTimezone", "State")})
    return found


def deploy_again(runtime: Any, map_id: str, body: dict[str, Any] | None = None) -> None:
    """WHEN the map is pushed again (``body``: changed), registered over its deployed state machine."""
    import yaml

    from automaps.journeys.enrollment import register
    from automaps.maps.model import Map
    from automaps_local.push import map_record

    data = body or yaml.safe_load((FIXTURES / f"{map_id}.yaml").read_text())
    map_ = Map.model_validate(data)
    register(map_record(map_, runtime.stack.state_machines[map_id].arn, map_.content_hash()))
