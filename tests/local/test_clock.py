"""The virtual clock, with real threads standing in for executions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from automaps import clock as app_clock
from automaps_local.clock import ClockTimeout, VirtualClock

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Execution:
    """A thread that plays an execution: counted from creation, then runs ``body(self)``."""

    def __init__(self, clock: VirtualClock, name: str, body: Callable[["Execution"], None]) -> None:
        self.clock, self.name, self.log = clock, name, []
        clock.begin(name)  # as StartExecution does, before the thread exists
        self.thread = threading.Thread(target=self._run, args=(body,), daemon=True)

    def _run(self, body: Callable[["Execution"], None]) -> None:
        try:
            body(self)
        finally:
            self.clock.end(self.name)

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds, owner=self.name)
        self.log.append(self.clock.now())

    def start(self) -> "Execution":
        self.thread.start()
        return self


def offsets(execution: Execution) -> list[float]:
    return [(at - START).total_seconds() for at in execution.log]


# ---------------------------------------------------------------------- discrete-event mode
def test_given_the_discrete_clock_then_it_is_an_aware_utc_clock_that_stands_still():
    clock = VirtualClock(START)
    with app_clock.using(clock):
        assert app_clock.now() == START and app_clock.now().tzinfo is not None
        time.sleep(0.01)
        assert app_clock.iso() == "2026-11-23T09:00:00Z"


def test_given_one_execution_when_it_sleeps_two_days_then_the_clock_jumps_without_waiting():
    clock = VirtualClock(START)
    execution = Execution(clock, "a", lambda e: e.sleep(2 * 86400)).start()
    began = time.monotonic()

    assert clock.run_until_settled(timeout=5) is True

    assert time.monotonic() - began < 1
    assert offsets(execution) == [2 * 86400]
    assert clock.now() == START + timedelta(days=2)


def test_given_several_executions_then_time_jumps_only_when_every_one_of_them_is_asleep():
    clock = VirtualClock(START)
    release_b = threading.Event()

    def b_body(e: Execution) -> None:
        release_b.wait(5)   # busy (not asleep) until released
        e.sleep(5)
        e.sleep(20)

    a, b = Execution(clock, "a", lambda e: e.sleep(10)), Execution(clock, "b", b_body)
    a.start(), b.start()
    time.sleep(0.2)
    assert clock.now() == START and a.log == []  # a sleeps, b runs: no jump

    release_b.set()
    assert clock.run_until_settled(timeout=5) is True

    assert offsets(a) == [10] and offsets(b) == [5, 25]
    assert clock.now() == START + timedelta(seconds=25)


def test_given_an_execution_created_but_not_yet_running_then_it_already_holds_the_clock():
    clock = VirtualClock(START)
    sleeper = Execution(clock, "a", lambda e: e.sleep(60))
    late = Execution(clock, "late", lambda e: e.sleep(1))  # created (StartExecution returned), thread not started
    sleeper.start()
    time.sleep(0.2)
    assert clock.now() == START

    late.start()
    clock.run_until_settled(timeout=5)

    assert offsets(late) == [1] and offsets(sleeper) == [60]


def test_given_a_hold_then_no_jump_happens_until_it_is_released():
    clock = VirtualClock(START)
    with clock.hold():
        first = Execution(clock, "a", lambda e: e.sleep(30)).start()
        time.sleep(0.1)
        second = Execution(clock, "b", lambda e: e.sleep(30)).start()
        time.sleep(0.1)
        assert clock.now() == START
    clock.run_until_settled(timeout=5)

    assert offsets(first) == offsets(second) == [30]


def test_given_a_horizon_then_the_run_stops_there_and_a_later_run_finishes():
    clock = VirtualClock(START, auto_advance=False)  # time moves only inside run_until_settled
    execution = Execution(clock, "a", lambda e: (e.sleep(3600), e.sleep(86400))).start()

    assert clock.run_until_settled(until=timedelta(hours=2), timeout=5) is False
    assert clock.now() == START + timedelta(hours=2) and offsets(execution) == [3600]

    assert clock.run_until_settled(timeout=5) is True
    assert offsets(execution) == [3600, 3600 + 86400]


def test_given_no_auto_advance_then_time_moves_only_by_advance():
    clock = VirtualClock(START, auto_advance=False)
    execution = Execution(clock, "a", lambda e: e.sleep(100)).start()
    assert clock.wait_idle(timeout=5)
    time.sleep(0.1)
    assert execution.log == []

    clock.advance(99)
    time.sleep(0.1)
    assert execution.log == []
    clock.advance(1)

    assert clock.wait_finished(timeout=5) and offsets(execution) == [100]


def test_given_several_executions_when_waiting_for_idle_then_it_returns_once_all_are_asleep():
    clock = VirtualClock(START, auto_advance=False)
    release = threading.Event()
    Execution(clock, "a", lambda e: e.sleep(10)).start()
    Execution(clock, "b", lambda e: (release.wait(5), e.sleep(10))).start()

    assert clock.wait_idle(timeout=0.3) is False  # b is still running
    release.set()
    assert clock.wait_idle(timeout=5) is True
    assert clock.running() == 0 and clock.stats()["participants"] == 2
    clock.close()


def test_given_an_execution_that_never_sleeps_then_settling_times_out_loudly():
    clock = VirtualClock(START)
    stop = threading.Event()
    Execution(clock, "busy", lambda e: stop.wait(5)).start()

    with pytest.raises(ClockTimeout, match="running=1"):
        clock.run_until_settled(timeout=0.3)
    stop.set()


def test_given_an_interrupted_sleep_then_it_returns_false_and_the_clock_stays():
    clock = VirtualClock(START, auto_advance=False, poll_seconds=0.02)
    stopped = threading.Event()
    results = []
    thread = threading.Thread(target=lambda: results.append(clock.sleep(3600, interrupted=stopped.is_set)))
    thread.start()
    time.sleep(0.1)

    stopped.set()
    thread.join(2)

    assert results == [False] and clock.now() == START and clock.stats()["participants"] == 0


def test_given_an_executions_sleep_when_interrupted_then_it_looks_at_once_not_at_its_next_poll():
    # GIVEN an execution asleep for an hour; its sleep looks at "stopped" only every 60 s by itself
    clock = VirtualClock(START, auto_advance=False, owned_poll_seconds=60)
    stopped, results = threading.Event(), []
    clock.begin("run")
    thread = threading.Thread(target=lambda: results.append(clock.sleep(3600, interrupted=stopped.is_set, owner="run")))
    thread.start()
    assert clock.wait_idle(timeout=5)

    # WHEN it is stopped and the clock told (as StopExecution does), and another execution is not
    stopped.set()
    clock.interrupt("another run")
    thread.join(0.5)
    assert thread.is_alive()  # nobody told it: it still sleeps
    clock.interrupt("run")
    thread.join(2)

    # THEN the sleep returned False at once, and the clock stayed where it was
    assert results == [False] and clock.now() == START


def test_given_an_interrupted_sleep_that_was_not_stopped_then_it_sleeps_on_until_its_deadline():
    clock = VirtualClock(START, owned_poll_seconds=60)
    execution = Execution(clock, "a", lambda e: e.sleep(3600))
    execution.start()
    assert clock.wait_idle(timeout=5)

    clock.interrupt("a")  # looked, not stopped: it goes back to sleep and the clock jumps as before

    assert clock.run_until_settled(timeout=5) and offsets(execution) == [3600]


def test_given_a_closed_clock_then_every_sleeper_is_released():
    clock = VirtualClock(START, auto_advance=False)
    Execution(clock, "a", lambda e: e.sleep(3600)).start()
    assert clock.wait_idle(timeout=5)

    clock.close()

    assert clock.wait_finished(timeout=2) and clock.now() == START


# ---------------------------------------------------------------------- scaled mode
def test_given_a_scaled_clock_then_virtual_time_runs_k_times_real_time():
    clock = VirtualClock(START, time_scale=3600)  # an hour a second
    began = time.monotonic()
    time.sleep(0.2)
    elapsed_real = time.monotonic() - began

    virtual = (clock.now() - START).total_seconds()

    assert virtual == pytest.approx(elapsed_real * 3600, rel=0.2)


def test_given_a_scaled_clock_then_a_sleep_of_s_virtual_seconds_takes_s_over_k_real_seconds():
    clock = VirtualClock(START, time_scale=1000)
    began = time.monotonic()

    assert clock.sleep(300) is True  # five virtual minutes

    assert 0.29 <= time.monotonic() - began < 0.6
    assert clock.now() >= START + timedelta(seconds=300)


def test_given_a_scaled_clock_when_advanced_then_sleepers_due_wake_at_once():
    clock = VirtualClock(START, time_scale=1.0)
    execution = Execution(clock, "a", lambda e: e.sleep(86400)).start()
    assert clock.wait_idle(timeout=5)

    clock.advance(86400)

    assert clock.wait_finished(timeout=2)
    assert execution.log[0] >= START + timedelta(days=1)


def test_given_the_scaled_clock_then_run_until_settled_is_refused():
    with pytest.raises(RuntimeError, match="discrete"):
        VirtualClock(START, time_scale=10).run_until_settled()
