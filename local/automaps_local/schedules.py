"""EventBridge Scheduler, in-process: where the runtime finds its schedule firing.

The firing itself is a patch of moto (its Scheduler stores schedules but never fires them), so it
lives with the others in :mod:`automaps_local.moto_patches` (``ScheduleFiring``,
``next_occurrence``, ``substitute``): one-time ``at(...)`` schedules as clock participants,
recurring ``cron(...)``/``rate(...)`` ones fired as the clock passes them.
"""

from __future__ import annotations

from automaps_local.moto_patches import ScheduleFiring, next_occurrence, substitute

__all__ = ["ScheduleFiring", "next_occurrence", "substitute"]
