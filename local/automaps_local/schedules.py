"""EventBridge Scheduler, in-process: one-time schedules fire on the virtual clock.

moto's Scheduler stores schedules but never fires them. The runtime's :class:`ScheduleFiring`
watches CreateSchedule on the shared Scheduler client (a botocore ``after-call`` hook) and keeps
one poller thread, a participant of the virtual clock (so ``run_until_settled`` and
``--fast-forward`` wait for and jump to a schedule's moment, as they do for Wait states): it
sleeps until the earliest ``at(...)`` schedule is due, then delivers its target as Scheduler
would. Targets supported: an SQS queue (``SendMessage`` of the target's ``Input``), which is what
the backend schedules (long waits, automaps.journeys.handoff). ``ActionAfterCompletion: DELETE``
deletes the schedule once it fired; a schedule without it is disabled (a one-time schedule fires once).
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime
from typing import Any

from automaps import aws
from automaps_local.clock import VirtualClock

LOG = logging.getLogger(__name__)
AT = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")


class ScheduleFiring:
    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired = 0

    def install(self) -> ScheduleFiring:
        aws.client("scheduler").meta.events.register("after-call.scheduler.CreateSchedule", self._created)
        return self

    def _created(self, **_: Any) -> None:
        with self._lock:
            self._changed.set()
            if self._thread is not None or self._closed.is_set():
                return
            key = self.clock.begin(("scheduler",))  # in the creator's thread: the clock never looks idle
            self._thread = threading.Thread(target=self._poll, args=(key,), daemon=True, name="scheduler")
        self._thread.start()

    def _poll(self, key: Any) -> None:
        try:
            while not self._closed.is_set():
                self._changed.clear()
                due = self.next_due()
                if due is None:
                    return
                at, group, name = due
                if self.clock.sleep_until(at, interrupted=self._changed.is_set, owner=key):
                    self.fire(group, name)
                elif self._closed.is_set():
                    return
        except Exception:  # a poller must not die silently
            LOG.exception("schedule poller stopped")
        finally:
            with self._lock:
                self._thread = None
            self.clock.end(key)

    def next_due(self) -> tuple[datetime, str, str] | None:
        """The earliest enabled one-time schedule: (its moment, group, name)."""
        scheduler, found = aws.client("scheduler"), []
        for page in scheduler.get_paginator("list_schedules").paginate(State="ENABLED"):
            for summary in page["Schedules"]:
                schedule = scheduler.get_schedule(GroupName=summary["GroupName"], Name=summary["Name"])
                match = AT.fullmatch(schedule.get("ScheduleExpression", ""))
                if match:
                    at = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
                    found.append((at, summary["GroupName"], summary["Name"]))
        return min(found) if found else None

    def fire(self, group: str, name: str) -> None:
        """Deliver the schedule's target, then delete (or disable) the schedule."""
        scheduler = aws.client("scheduler")
        schedule = scheduler.get_schedule(GroupName=group, Name=name)
        target = schedule["Target"]
        if ":sqs:" in target["Arn"]:
            queue = target["Arn"].rsplit(":", 1)[1]
            url = aws.client("sqs").get_queue_url(QueueName=queue)["QueueUrl"]
            aws.client("sqs").send_message(QueueUrl=url, MessageBody=target.get("Input", ""))
        else:
            LOG.warning("schedule %s/%s: target %s is not delivered locally", group, name, target["Arn"])
        self.fired += 1
        if schedule.get("ActionAfterCompletion") == "DELETE":
            scheduler.delete_schedule(GroupName=group, Name=name)
        else:
            update = {k: schedule[k] for k in ("ScheduleExpression", "FlexibleTimeWindow", "Target") if k in schedule}
            scheduler.update_schedule(GroupName=group, Name=name, State="DISABLED", **update)

    def close(self) -> None:
        self._closed.set()
        self._changed.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)
