"""The virtual clock of the local runtime.

One clock serves ``automaps.clock.now()`` (what handlers record), Wait states and Retry back-off
(through ``moto_patches``). It runs in one of two modes:

* **scaled** (``time_scale=k``): virtual time runs k times faster than real time; a sleep of S
  virtual seconds takes S/k real seconds. ``automaps serve --time-scale``.
* **discrete-event** (``time_scale=None``): virtual time stands still while anything runs and
  jumps to the earliest sleeper's deadline as soon as every running execution is asleep, so a
  two-day wait takes no real time and runs are deterministic. Tests and ``automaps simulate``.

Executions are *participants*, keyed by execution ARN: counted from the moment StartExecution
creates them (``begin``, in the caller's thread, so a just-started execution never looks idle)
until they finish (``end``). A sleep names its owner; an execution is asleep while its own
thread sleeps. A sleep with no known owner (a test's main thread, a Parallel branch or inline
Map iteration) is a participant of its own for as long as it sleeps.

Known limit: a Wait or Retry inside a Parallel branch or inline Map iteration leaves its
execution looking busy (its thread is blocked on the branches), so discrete mode cannot jump
past it: ``run_until_settled`` then raises ``ClockTimeout`` saying what is still running.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


class ClockTimeout(RuntimeError):
    """Executions did not settle within the real-time budget."""


@dataclass(order=True)
class _Sleeper:
    deadline: datetime
    seq: int
    owner: Hashable = field(compare=False, default=None)
    event: threading.Event = field(compare=False, default_factory=threading.Event)
    woken: bool = field(compare=False, default=False)  # released by a jump or advance (discrete)
    cancelled: bool = field(compare=False, default=False)  # left early (interrupted / closed)
    temporary: bool = field(compare=False, default=False)  # a participant only while it sleeps


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class VirtualClock:
    """Implements ``automaps.clock.Clock``, plus sleeping and idle detection for executions."""

    def __init__(
        self,
        start: datetime | None = None,
        time_scale: float | None = None,
        *,
        auto_advance: bool = True,
        poll_seconds: float = 0.25,
        owned_poll_seconds: float = 5.0,
    ) -> None:
        if time_scale is not None and time_scale <= 0:
            raise ValueError("time_scale must be positive (or None for discrete-event mode)")
        self.time_scale = time_scale
        self.auto_advance = auto_advance
        self.poll_seconds = poll_seconds
        self.owned_poll_seconds = owned_poll_seconds
        """Discrete mode: how often the sleep of a participant (an execution's Wait or Retry) looks
        at ``interrupted`` by itself; :meth:`interrupt` (StopExecution) wakes it at once. Polling
        every ``poll_seconds`` made 2,000 waiting executions wake 8,000 times a real second."""
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._given_start = _aware(start) if start else None
        self._origin = self._given_start or (datetime.now(UTC) if time_scale else DEFAULT_START)
        self._real_origin = time.monotonic()
        self._offset = timedelta(0)  # discrete: all of virtual time; scaled: what advance() added
        self._sleepers: list[_Sleeper] = []
        self._seq = itertools.count()
        self._members: dict[Hashable, list[int]] = {}  # participant -> [begin count, sleeps in progress]
        self._awake = 0  # participants with no sleep in progress
        self._idle_generation = 0  # bumped each time nothing is awake
        self._cap: datetime | None = None  # discrete mode: automatic jumps stop here
        self._closed = False

    # ------------------------------------------------------------------ reading
    @property
    def discrete(self) -> bool:
        return self.time_scale is None

    def now(self) -> datetime:
        if self.discrete:
            return self._origin + self._offset
        assert self.time_scale is not None
        elapsed = (time.monotonic() - self._real_origin) * self.time_scale
        return self._origin + self._offset + timedelta(seconds=elapsed)

    def running(self) -> int:
        """Participants that are neither asleep nor finished."""
        with self._lock:
            return self._awake

    def stats(self) -> dict[str, object]:
        with self._lock:
            pending = [s.deadline for s in self._sleepers if not (s.woken or s.cancelled)]
            return {
                "now": self.now(),
                "participants": len(self._members),
                "running": self._awake,
                "next_deadline": min(pending) if pending else None,
            }

    # ------------------------------------------------------------------ participants
    def begin(self, key: Hashable | None = None) -> Hashable:
        """A participant (an execution, by ARN) exists from now on; returns its key."""
        key = object() if key is None else key
        with self._lock:
            member = self._members.setdefault(key, [0, 0])
            self._awake += member[0] == 0 and member[1] == 0
            member[0] += 1
        return key

    def end(self, key: Hashable) -> None:
        """The participant finished, however it ended."""
        with self._lock:
            member = self._members[key]
            member[0] -= 1
            if member[0] == 0:
                self._drop_locked(key)
            self._settle_locked()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Keep the clock from jumping while the block runs (e.g. starting several executions)."""
        key = self.begin()
        try:
            yield
        finally:
            self.end(key)

    def _doze_locked(self, key: Hashable, delta: int) -> None:
        member = self._members[key]
        before = member[1]
        member[1] += delta
        self._awake += (member[1] == 0) - (before == 0)

    # ------------------------------------------------------------------ sleeping
    def sleep(
        self, seconds: float, interrupted: Callable[[], bool] | None = None, owner: Hashable | None = None
    ) -> bool:
        return self.sleep_until(self.now() + timedelta(seconds=max(0.0, seconds)), interrupted, owner)

    def sleep_until(
        self, deadline: datetime, interrupted: Callable[[], bool] | None = None, owner: Hashable | None = None
    ) -> bool:
        """Sleep in virtual time. True once ``deadline`` is reached; False if interrupted or closed.

        ``owner`` is the participant (execution ARN) the sleeping thread stands for; an unknown
        owner makes the sleep a participant of its own.
        """
        deadline = _aware(deadline)
        with self._lock:
            if self._closed:
                return False
            if deadline <= self.now():
                return True
            temporary = owner is None or owner not in self._members
            sleeper = _Sleeper(deadline, next(self._seq), temporary=temporary)
            if temporary:
                owner = object()
                self._members[owner] = [1, 0]
                self._awake += 1
            sleeper.owner = owner
            heapq.heappush(self._sleepers, sleeper)
            self._doze_locked(owner, +1)
            self._settle_locked()
        reached = False
        try:
            reached = self._wait(sleeper, interrupted)
        finally:
            with self._lock:
                self._leave_locked(sleeper)
        return reached

    def interrupt(self, owner: Hashable) -> None:
        """The participant's sleeps look at their ``interrupted`` now (its execution was stopped)."""
        with self._lock:
            for sleeper in self._sleepers:
                if sleeper.owner == owner and not (sleeper.woken or sleeper.cancelled):
                    sleeper.event.set()

    def _wait(self, sleeper: _Sleeper, interrupted: Callable[[], bool] | None) -> bool:
        while True:
            if self.discrete:
                poll = self.poll_seconds if sleeper.temporary else self.owned_poll_seconds
                signalled = sleeper.event.wait(poll)
                if sleeper.woken:
                    return True
                if signalled:  # interrupt() (woken is set before the event, under the lock)
                    sleeper.event.clear()
                    if sleeper.woken:
                        return True
            else:
                remaining = (sleeper.deadline - self.now()).total_seconds()
                if remaining <= 0:
                    return True
                if sleeper.event.wait(min(remaining / (self.time_scale or 1.0), self.poll_seconds)):
                    sleeper.event.clear()
            if self._closed or (interrupted is not None and interrupted()):
                return False

    def _leave_locked(self, sleeper: _Sleeper) -> None:
        if not sleeper.woken:
            sleeper.cancelled = True
            self._doze_locked(sleeper.owner, -1)
        if sleeper.temporary:
            self._drop_locked(sleeper.owner)
        self._settle_locked()

    def _drop_locked(self, key: Hashable) -> None:
        member = self._members.pop(key)
        self._awake -= member[1] == 0

    # ------------------------------------------------------------------ moving time
    def advance(self, seconds: float) -> datetime:
        """Move virtual time forward (both modes) and wake the sleepers that are due."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)
            self._wake_due_locked()
            self._changed.notify_all()
            return self.now()

    def rebase(self, at: datetime | None = None) -> datetime:
        """Restart from ``at`` (default: the start given, or real now when scaled): e.g. once
        ``serve`` has finished setting up, so set-up time does not count as virtual time."""
        with self._lock:
            self._origin = (
                _aware(at) if at else (self._given_start or (datetime.now(UTC) if self.time_scale else DEFAULT_START))
            )
            self._offset, self._real_origin = timedelta(0), time.monotonic()
            self._wake_due_locked()
            return self.now()

    def _settle_locked(self) -> None:
        """Called under the lock whenever the counts change: notice idleness, maybe jump."""
        if self._awake > 0:
            return
        self._idle_generation += 1
        if self.discrete and self.auto_advance:
            self._jump_locked()
        self._changed.notify_all()

    def _jump_locked(self) -> bool:
        """Discrete mode: jump to the earliest deadline (not beyond the cap) and wake its sleepers."""
        while self._sleepers and (self._sleepers[0].cancelled or self._sleepers[0].woken):
            heapq.heappop(self._sleepers)
        if not self._sleepers:
            return False
        deadline = self._sleepers[0].deadline
        if self._cap is not None and deadline > self._cap:
            return False
        if deadline > self.now():
            self._offset = deadline - self._origin
        return self._wake_due_locked() > 0

    def _wake_due_locked(self) -> int:
        now, woken = self.now(), 0
        while self._sleepers and (self._sleepers[0].deadline <= now or self._sleepers[0].cancelled):
            sleeper = heapq.heappop(self._sleepers)
            if sleeper.cancelled or sleeper.woken:
                continue
            if self.discrete:  # running again from this instant, so no later jump can skip it
                sleeper.woken = True
                self._doze_locked(sleeper.owner, -1)
            sleeper.event.set()
            woken += 1
        if not self.discrete:  # scaled: every sleeper recomputes its real timeout
            for sleeper in self._sleepers:
                sleeper.event.set()
        return woken

    # ------------------------------------------------------------------ waiting for the system
    def wait_idle(self, timeout: float | None = 10.0) -> bool:
        """Block until no participant is running unless asleep (or all finished); False on timeout.

        In discrete auto-advance mode idleness lasts an instant (the clock jumps at once); this
        returns once it has happened since the call.
        """
        with self._lock:
            generation = self._idle_generation
            return self._changed.wait_for(lambda: self._awake == 0 or self._idle_generation != generation, timeout)

    def wait_finished(self, timeout: float | None = 10.0) -> bool:
        """Block until no participant is left (every execution ended); False on timeout."""
        with self._lock:
            return self._changed.wait_for(lambda: not self._members, timeout)

    def run_until_settled(self, until: datetime | timedelta | None = None, timeout: float = 30.0) -> bool:
        """Discrete mode: jump from deadline to deadline until every execution finished (True) or
        the next deadline lies beyond ``until`` (False; the clock then stands at ``until``).

        ``until`` stays in force afterwards as a cap on automatic jumps, so the system stays
        frozen there for inspection; the next call (or ``until=None``) moves or lifts it.
        Raises ``ClockTimeout`` if executions keep running for ``timeout`` real seconds.
        """
        if not self.discrete:
            raise RuntimeError("run_until_settled needs the discrete-event clock (time_scale=None)")
        with self._lock:
            self._cap = self.now() + until if isinstance(until, timedelta) else (_aware(until) if until else None)
            end = time.monotonic() + timeout
            while True:
                if not self._members:
                    return True
                if self._awake == 0 and not self._jump_locked():
                    if self._cap is not None and self._cap > self.now():
                        self._offset = self._cap - self._origin
                    return False
                left = end - time.monotonic()
                if left <= 0:
                    raise ClockTimeout(
                        f"executions still running after {timeout}s real time "
                        f"(participants={len(self._members)}, running={self._awake}, "
                        f"now={self.now():%Y-%m-%dT%H:%M:%SZ}); a Wait or Retry inside "
                        "a Parallel/Map branch cannot be jumped over in discrete mode"
                    )
                self._changed.wait(min(left, self.poll_seconds))

    def close(self) -> None:
        """Release every sleeper (their sleeps return False); later sleeps return at once."""
        with self._lock:
            self._closed = True
            for sleeper in self._sleepers:
                sleeper.event.set()
            self._changed.notify_all()
