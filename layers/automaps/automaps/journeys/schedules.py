"""Maps a moment starts: one EventBridge Scheduler schedule per moment trigger, and its occurrences.

A moment trigger (``schedule``, ``date_matches``, ``date_relative``, ``date_is``; see
automaps.maps.triggers.MomentTrigger) is kept in the registry like any other
(``enrollment.Trigger``). When a map is registered, :func:`sync` writes one schedule per moment
trigger into the starts schedule group (``config.starts_scheduler()``), named from the map and
the trigger's id (:func:`trigger_id`), and deletes the map's schedules no longer in it. Each
schedule sends an :class:`Occurrence` to the EnrollQueue, whose consumer hands it to the
occurrence runner (automaps.journeys.broadcasts): one :class:`Page` of the audience at a time.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel

from automaps import aws, clock, config
from automaps.maps.triggers import ScheduleSpec

if TYPE_CHECKING:
    from automaps.journeys.enrollment import MapRecord, Trigger

logger = Logger(child=True)

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


class Occurrence(BaseModel):
    """The EnrollQueue message a moment's schedule sends (``at`` is Scheduler's
    ``<aws.scheduler.scheduled-time>``), and each follow-on page (with the ``cursor`` and the
    ``page`` number the previous page left)."""

    kind: Literal["occurrence"] = "occurrence"
    map_id: str
    trigger: str
    """The trigger's id within the map (:func:`trigger_id`)."""
    at: str
    """The scheduled time, ISO UTC."""
    cursor: dict | None = None
    page: int = 0


class Page(NamedTuple):
    """One page of an occurrence's audience."""

    members: list[tuple[str, str]]
    """(contact_id, cause_id); the cause id is deterministic per contact and occurrence (e.g. per
    local date for date triggers), so a page read twice enrolls each contact once."""
    cursor: dict | None
    """Where the next page starts; None: this was the last page."""


def trigger_id(index: int, type_: str, spec: dict | None) -> str:
    """A moment trigger's id within its map: its place and a short hash of its kind and settings
    (a changed trigger is a new id, so its old schedule is deleted and a new one made)."""
    digest = hashlib.sha256(json.dumps([type_, _canonical(spec or {})], sort_keys=True).encode()).hexdigest()[:10]
    return f"{index}-{digest}"


def _canonical(value: Any) -> Any:
    """The same JSON whether the spec was just dumped (``7.0``) or read back from DynamoDB (``7``)."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return int(number) if number.is_integer() else number


# ---------------------------------------------------------------- the schedules of a map

MOMENT_TYPES = ("schedule", "date_matches", "date_relative", "date_is")
NAME_LIMIT = 64


def moment_triggers(record: MapRecord) -> list[tuple[str, Trigger]]:
    """The map's moment triggers with their ids (:func:`trigger_id`), in the map's order."""
    return [
        (trigger_id(index, trigger.type, trigger.spec), trigger)
        for index, trigger in enumerate(record.triggers)
        if trigger.type in MOMENT_TYPES
    ]


def find_trigger(record: MapRecord, trigger: str) -> Trigger | None:
    """The moment trigger with id ``trigger`` in the map as registered now (None: changed or removed)."""
    return next((found for tid, found in moment_triggers(record) if tid == trigger), None)


def name_prefix(map_id: str) -> str:
    """What every schedule of the map is named with: unique per map (a hash of the whole id)."""
    return f"{map_id[:40]}-{hashlib.sha256(map_id.encode()).hexdigest()[:6]}."


def schedule_name(map_id: str, trigger: str) -> str:
    """At most 64 characters of [0-9a-zA-Z-_.], deterministic per map and trigger id."""
    name = name_prefix(map_id) + trigger
    assert len(name) <= NAME_LIMIT, name
    return name


def timezone_of(record: MapRecord, trigger: Trigger) -> str:
    """A schedule trigger's timezone: its own, else the map's, else UTC."""
    return str((trigger.spec or {}).get("timezone") or record.timezone or "UTC")


def rate_expression(seconds: int) -> str:
    minutes = seconds // 60
    for unit, size in (("day", 1440), ("hour", 60), ("minute", 1)):
        if minutes % size == 0:
            count = minutes // size
            return f"rate({count} {unit}{'' if count == 1 else 's'})"
    raise AssertionError("unreachable: a minute divides every rate")


def expression(record: MapRecord, trigger: Trigger) -> tuple[str, str]:
    """The Scheduler expression of a moment trigger and the timezone it is read in:
    ``("cron(0 9 ? * MON *)", "Europe/Paris")``, ``("rate(7 days)", "UTC")``,
    ``("at(2026-12-24T09:00:00)", "Europe/Paris")``; date triggers ask automaps.journeys.dates."""
    if trigger.type != "schedule":
        from automaps.journeys import dates  # type: ignore[attr-defined, unused-ignore]

        found: tuple[str, str] = dates.schedule_expression(trigger)
        return found
    spec = ScheduleSpec.model_validate(trigger.spec or {})
    if spec.cron is not None:
        text = f"cron({spec.cron})"
    elif spec.rate is not None:
        text = rate_expression(spec.rate.total_seconds)
    else:
        text = f"at({spec.at})"
    return text, timezone_of(record, trigger)


def one_time_moment(text: str, zone: str) -> datetime | None:
    """The instant of an ``at(...)`` expression read in ``zone``; None for a recurring one."""
    if not text.startswith("at("):
        return None
    return datetime.fromisoformat(text[3:-1]).replace(tzinfo=ZoneInfo(zone))


def desired(record: MapRecord, queue_arn: str, role_arn: str) -> dict[str, dict[str, Any]]:
    """Schedule name -> the CreateSchedule/UpdateSchedule arguments, for each moment trigger (a
    one-time ``at`` already past is left out: it happened, or it is too late to)."""
    wanted: dict[str, dict[str, Any]] = {}
    for tid, trigger in moment_triggers(record):
        text, zone = expression(record, trigger)
        moment = one_time_moment(text, zone)
        if moment is not None and moment <= clock.now():
            continue
        message = Occurrence(map_id=record.id, trigger=tid, at=SCHEDULED_TIME)
        arguments: dict[str, Any] = {
            "ScheduleExpression": text,
            "ScheduleExpressionTimezone": zone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Description": f"{record.id}: {trigger.type} {trigger.key}"[:512],
            "Target": {
                "Arn": queue_arn,
                "RoleArn": role_arn,
                "Input": message.model_dump_json(),
                "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
            },
        }
        if moment is not None:
            arguments["ActionAfterCompletion"] = "DELETE"
        wanted[schedule_name(record.id, tid)] = arguments
    return wanted


def sync(record: MapRecord) -> dict[str, int]:
    """Make the starts group hold exactly the map's schedules: create the missing, update the
    changed, delete those of triggers no longer in the map. Idempotent; counts what it did.
    Nothing when the stack has no starts group (``config.starts_scheduler()`` is None)."""
    target = config.starts_scheduler()
    done = {"created": 0, "updated": 0, "deleted": 0, "kept": 0}
    if target is None:
        return done
    group, role, queue = target
    scheduler = aws.client("scheduler")
    wanted = desired(record, queue, role)
    existing = {
        summary["Name"]
        for page in scheduler.get_paginator("list_schedules").paginate(
            GroupName=group, NamePrefix=name_prefix(record.id)
        )
        for summary in page["Schedules"]
    }
    for name, arguments in wanted.items():
        if name in existing:
            current = scheduler.get_schedule(GroupName=group, Name=name)
            if all(current.get(key) == value for key, value in arguments.items() if key != "Target") and all(
                current.get("Target", {}).get(key) == value for key, value in arguments["Target"].items()
            ):
                done["kept"] += 1
                continue
            scheduler.update_schedule(GroupName=group, Name=name, **arguments)
            done["updated"] += 1
            continue
        try:
            scheduler.create_schedule(GroupName=group, Name=name, **arguments)
            done["created"] += 1
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConflictException":  # made meanwhile: make it what we want
                raise
            scheduler.update_schedule(GroupName=group, Name=name, **arguments)
            done["updated"] += 1
    for name in sorted(existing - set(wanted)):
        try:
            scheduler.delete_schedule(GroupName=group, Name=name)
            done["deleted"] += 1
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
    if any(done[key] for key in ("created", "updated", "deleted")):
        logger.info("map schedules synced", extra={"map_id": record.id, "schedules": done})
    return done
