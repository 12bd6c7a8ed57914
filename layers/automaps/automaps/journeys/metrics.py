"""Journey metrics: every history entry a map wrote, counted by map and step, as CloudWatch EMF.

History entries are the event log, and the router (``automaps.journeys.router``) already sees each
one (every ``H#`` INSERT on the ContactsTable's stream). So the counting happens there, in the
invocation that runs anyway, not in every step: the router tallies the entries of one stream batch
that carry a ``map_id`` and flushes the tally once, as one EMF document (one stdout line, which
Lambda's log group turns into metrics) per map and step.

- Namespace ``POWERTOOLS_METRICS_NAMESPACE`` (``Automaps``); dimensions ``map``, ``step`` (left out
  for an entry of no step: ``map.enrolled``, ...) and Powertools' ``service``.
- The metric is the entry's kind in CamelCase, its value the count in the batch: ``step.done`` is
  ``StepDone``, ``step.skipped`` ``StepSkipped``, ``step.failed`` ``StepFailed``,
  ``step.outcome_unknown`` ``StepUnknown`` (as the per-action ``Step<Outcome>`` counts of
  ``automaps.journeys.steps``), ``step.deferred`` ``StepDeferred``, ``email.sent`` ``EmailSent``,
  ``email.opened`` ``EmailOpened`` (engagement entries carry the sending step), ``sms.sent``
  ``SmsSent``, ``map.enrolled`` ``MapEnrolled``, ``map.exited`` ``MapExited``, ``goal.achieved``
  ``GoalAchieved``, ...
- Counted once an entry is routed. Delivery is at least once: a batch the stream delivers again
  (after a failed record, whose successors come back too) counts its entries again; the counts are
  for dashboards and alarms, the history stays the record.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from threading import Lock
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

if TYPE_CHECKING:
    from automaps.store.contacts import HistoryEntry

logger = Logger(child=True)

DEFAULT_NAMESPACE = "Automaps"
_NAMES = {"step.outcome_unknown": "StepUnknown"}


def metric_name(kind: str) -> str:
    """The metric of a history kind: ``step.done`` -> ``StepDone``, ``map.enroll_skipped`` -> ``MapEnrollSkipped``."""
    return _NAMES.get(kind) or "".join(part[:1].upper() + part[1:] for part in re.split(r"[._\-]+", kind) if part)


class Tally:
    """The counts of one stream batch, by (map, step, metric); safe to count from several threads."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._lock = Lock()

    def count(self, entry: HistoryEntry) -> None:
        """Count ``entry`` if a map wrote it (it names the map); other entries are not journey outcomes."""
        if entry.map_id:
            with self._lock:
                self._counts[(entry.map_id, entry.step_id or "", metric_name(entry.kind))] += 1

    def counts(self) -> dict[tuple[str, str, str], int]:
        with self._lock:
            return dict(self._counts)

    def flush(self) -> int:
        """Write the tally as EMF, one document per map and step, and start again; the documents written."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        groups: dict[tuple[str, str], dict[str, int]] = {}
        for (map_id, step_id, name), value in counts.items():
            groups.setdefault((map_id, step_id), {})[name] = value
        namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
        written = 0
        for (map_id, step_id), values in sorted(groups.items()):
            try:
                metrics = EphemeralMetrics(namespace=namespace)
                metrics.add_dimension(name="map", value=map_id)
                if step_id:
                    metrics.add_dimension(name="step", value=step_id)
                for name, value in sorted(values.items()):
                    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
                metrics.flush_metrics()
                written += 1
            except Exception:  # a count must never fail the batch (its entries would be routed again)
                logger.exception("journey metrics not written", extra={"map_id": map_id, "step_id": step_id})
        return written
