"""Channel send rates (automaps.channels.rates): a send beyond SES's rate or an SMS identity's
messages per second takes a later slot and is deferred to it, through the deferral quiet hours use;
the slots are shared by every sender through DynamoDB (moto), never more in a second than the rate,
and a retried visit never takes a second slot. The real send_email / send_sms handlers, the clock
standing at 2026-11-02 08:00 UTC."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from botocore.stub import Stubber

from automaps import aws as aws_clients
from automaps import config
from automaps.channels import rates
from functions.send_email import app as email_app
from functions.send_sms import app as sms_app
from tests.actions.sending import a_contact, history, shipped_template, task_event
from tests.conftest import FakeLambdaContext
from tests.outbox import sent_emails

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
DEFERRABLE = {}
"""The ``sending`` a send Task of a map without limits carries (``{}``: it can still be deferred)."""
DAYTIME = {"quiet_hours": {"from": "22:00", "to": "06:00", "timezone": "UTC"}}


@pytest.fixture
def ready(aws, clock, monkeypatch):
    """GIVEN the stack is up, the welcome template stored, the clock standing still, and SES's
    send rate set to 3 a second."""
    shipped_template("welcome")
    monkeypatch.setenv("EMAIL_SEND_RATE", "3")
    return clock


def email(contact, n: int = 0, entered: str = "2026-11-02T08:00:00.000Z", sending=DEFERRABLE) -> dict:
    return task_event("send_email.json", contact, sending=sending, enrollment_id=f"e_{n}",
                      execution_id=f"arn:aws:states:us-east-1:123456789012:execution:automaps-welcome-leads:run-{n}",
                      state_entered_time=entered)


def contacts(count: int) -> list:
    return [a_contact(f"reader{n}@example.com", first_name=f"Reader{n}") for n in range(count)]


def second(at: str) -> str:
    return at[:19]


def lane_items() -> dict[str, int]:
    """The lane items of the rates (id -> next multiple), as stored."""
    items = aws_clients.client("dynamodb").scan(TableName=config.idempotency_table())["Items"]
    return {item["id"]["S"]: int(item["m"]["N"]) for item in items if "#lane#" in item["id"]["S"]}


# ------------------------------------------------------------------ the slot sequence


def test_given_a_rate_then_every_second_owns_exactly_that_many_slot_numbers_dealt_to_its_lanes():
    for rate, lanes in ((Fraction(14), 14), (Fraction(3), 3), (Fraction(200), 16), (Fraction(1), 1)):
        assert rates.lanes_for(rate) == lanes
        owned = Counter(rates.second_of(slot, rate) for slot in range(rates.first_slot(1_000, rate),
                                                                          rates.first_slot(1_010, rate)))
        assert set(owned.values()) == {int(rate)} and len(owned) == 10
        # lane i's slot numbers, from any start, are the numbers of the form m * lanes + i
        assert all((rates.first_multiple(i, lanes, 1_000) * lanes + i) in range(1_000, 1_000 + lanes)
                   for i in range(lanes))
    # a rate below 1: one slot every 1/rate seconds; a fraction above 1 counts as its whole part
    half = rates.effective_rate(0.5)
    assert [rates.second_of(slot, half) for slot in range(4)] == [0, 2, 4, 6]
    assert rates.effective_rate(14.7) == 14 and rates.rate_words(0.5) == "1 every 2 seconds"


# ------------------------------------------------------------------ many senders at once


def test_given_24_concurrent_senders_when_all_are_due_in_the_same_second_then_no_second_gets_more_than_3(
        ready):
    # GIVEN 24 contacts whose emails are all due now, sent by 8 Lambdas at once
    readers = contacts(24)

    def send(pair):
        n, contact = pair
        return email_app.lambda_handler(email(contact, n), FakeLambdaContext())

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, enumerate(readers)))

    # THEN 3 go out now, and every other one is deferred to a later second, at most 3 to a second
    now = [r for r in results if r["outcome"] == "done"]
    deferred = [r for r in results if r["outcome"] == "deferred"]
    assert len(now) == 3 and len(sent_emails()) == 3 and len(deferred) == 21
    per_second = Counter(second(r["detail"]["deferred_until"]) for r in deferred)
    assert max(per_second.values()) <= 3
    # the slots are used without gaps (two choices of lane keep the lanes even): 8 seconds for 24
    assert max(per_second) <= "2026-11-02T08:00:08"
    assert all("the SES send rate (3 a second)" in r["reason"] for r in deferred)
    [entry] = history(readers[[r["outcome"] for r in results].index("deferred")], "step.deferred")
    assert "the SES send rate (3 a second): deferred until 2026-11-02T08:00:0" in entry.detail["reason"]


def test_given_deferred_sends_when_each_visit_comes_back_at_its_slot_then_all_go_out_once_3_a_second(ready):
    # GIVEN 15 emails due in the same second
    readers = contacts(15)
    first = {n: email_app.lambda_handler(email(c, n), FakeLambdaContext()) for n, c in enumerate(readers)}
    sent_at: list[str] = [clock_second(ready)] * sum(r["outcome"] == "done" for r in first.values())
    waiting = {n: r["detail"]["deferred_until"] for n, r in first.items() if r["outcome"] == "deferred"}

    # WHEN the clock reaches each slot and the deferred visits come back (a new visit of the same
    # state, as the map's Wait leads back to its Task), while 3 new contacts arrive every second
    late = contacts_after(15, 9)
    for tick in range(1, 7):
        ready.at = NOW + timedelta(seconds=tick)
        entered = ready.at.strftime("%Y-%m-%dT%H:%M:%S.500Z")
        for m, contact in late[(tick - 1) * 3: tick * 3] if tick <= 3 else []:  # first in their second
            arrival = email_app.lambda_handler(email(contact, m, entered), FakeLambdaContext())
            assert arrival["outcome"] == "deferred"  # the returning visits hold their seconds
            assert second(arrival["detail"]["deferred_until"]) >= "2026-11-02T08:00:05"
        for n, until in sorted(waiting.items()):
            if second(until) == clock_second(ready):
                again = email_app.lambda_handler(email(readers[n], n, entered), FakeLambdaContext())
                assert again["outcome"] == "done", again
                sent_at.append(clock_second(ready))

    # THEN each of the 15 went out exactly once, in its own slot, never more than 3 in a second
    assert len(sent_at) == 15 and len(sent_emails()) == 15
    assert max(Counter(sent_at).values()) == 3
    assert all(len(history(contact, "email.sent")) == 1 for contact in readers)


def clock_second(clock) -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M:%S")


def contacts_after(start: int, count: int) -> list[tuple[int, object]]:
    return [(start + n, a_contact(f"late{n}@example.com", first_name=f"Late{n}")) for n in range(count)]


# ------------------------------------------------------------------ once per visit


def test_given_a_deferred_visit_when_its_attempt_is_retried_then_it_gets_the_same_slot_and_takes_no_other(ready):
    readers = contacts(4)
    answers = [email_app.lambda_handler(email(c, n), FakeLambdaContext()) for n, c in enumerate(readers)]
    taken = lane_items()

    # WHEN the fourth visit's Lambda runs again (a retry of the same visit), and again
    from automaps.journeys import steps

    for _ in range(2):
        released = {**email(readers[3], 3)}
        steps_key = steps.TaskEvent.model_validate(released).idempotency_key
        _forget_idempotency(steps_key)  # as after a crash before the outcome was stored
        again = email_app.lambda_handler(released, FakeLambdaContext())
        assert again["detail"]["deferred_until"] == answers[3]["detail"]["deferred_until"]

    # THEN no lane handed out another slot
    assert lane_items() == taken and answers[3]["outcome"] == "deferred"


def test_given_a_visit_that_sent_when_it_is_retried_then_it_takes_no_second_slot_and_sends_nothing_more(ready):
    jane = a_contact(first_name="Jane")
    from automaps.journeys import steps

    event = email(jane)
    assert email_app.lambda_handler(event, FakeLambdaContext())["outcome"] == "done"
    taken = lane_items()
    _forget_idempotency(steps.TaskEvent.model_validate(event).idempotency_key)

    assert email_app.lambda_handler(event, FakeLambdaContext())["outcome"] == "done"
    assert lane_items() == taken and len(sent_emails()) == 1


def _forget_idempotency(key: str) -> None:
    table = config.idempotency_table()
    db = aws_clients.client("dynamodb")
    for item in db.scan(TableName=table)["Items"]:
        if item["id"]["S"].endswith(key):
            db.delete_item(TableName=table, Key={"id": item["id"]})


# ------------------------------------------------------------------ settings


def test_given_no_rate_when_many_are_due_at_once_then_none_is_paced(aws, clock, monkeypatch):
    shipped_template("welcome")
    monkeypatch.delenv("EMAIL_SEND_RATE", raising=False)
    results = [email_app.lambda_handler(email(c, n), FakeLambdaContext()) for n, c in enumerate(contacts(6))]

    assert {r["outcome"] for r in results} == {"done"} and len(sent_emails()) == 6 and lane_items() == {}


def test_given_a_map_with_sending_limits_then_its_sends_are_paced_after_the_limits_allow_them(ready):
    readers = contacts(4)
    results = [email_app.lambda_handler(email(c, n, sending=DAYTIME), FakeLambdaContext())
               for n, c in enumerate(readers)]

    assert [r["outcome"] for r in results] == ["done", "done", "done", "deferred"]
    assert results[3]["detail"]["deferred_until"] == "2026-11-02T08:00:01Z"


def test_given_a_send_task_compiled_without_the_deferral_then_it_is_not_paced(ready):
    # a send Task compiled before every send carried ``sending`` cannot wait: it sends at once
    readers = contacts(5)
    unpaced = [email_app.lambda_handler({k: v for k, v in email(c, n).items() if k != "sending"}, FakeLambdaContext())
               for n, c in enumerate(readers)]

    assert {r["outcome"] for r in unpaced} == {"done"} and lane_items() == {}


def test_given_two_sending_numbers_at_1_a_second_then_each_number_keeps_its_own_rate(aws, clock, monkeypatch):
    monkeypatch.setenv("SMS_SEND_RATE", "1")
    texts = []
    # moto lacks pinpoint-sms-voice-v2: botocore's Stubber answers as the service would
    with Stubber(aws_clients.client("pinpoint-sms-voice-v2")) as eum:
        for n in range(2):
            eum.add_response("send_text_message", {"MessageId": f"eum-{n}"})
        for n, sender in enumerate(["+18005550100", "+18005550100", "+18005550199"]):
            contact = a_contact(f"t{n}@example.com", first_name="T", phone="+14155550100")
            event = task_event("send_sms.json", contact, sending=DEFERRABLE, enrollment_id=f"e_{n}",
                               execution_id=f"arn:aws:states:us-east-1:123456789012:execution:m:run-{n}",
                               settings={"text": "Hi", "provider": "end_user_messaging", "from": sender})
            texts.append(sms_app.lambda_handler(event, FakeLambdaContext()))
        eum.assert_no_pending_responses()

    # THEN the first number's second text waits a second; the other number sends at once
    assert [t["outcome"] for t in texts] == ["done", "deferred", "done"]
    assert texts[1]["detail"]["deferred_until"] == "2026-11-02T08:00:01Z"
    assert "the SMS send rate (1 a second)" in texts[1]["reason"]


def test_given_threads_reserving_directly_then_every_slot_number_is_handed_out_once(aws, clock):
    # 200 visits asking for slots at 50 a second from 10 threads at once (16 lanes)
    barrier = threading.Barrier(10)

    def reserve(worker: int) -> list[int]:
        barrier.wait()
        seconds = []
        for n in range(20):
            slot = rates.pace("ses", 50, rates.holder(f"x-{worker}-{n}", "s"), f"v-{worker}-{n}", NOW)
            seconds.append(int(slot.second.timestamp()))
        return seconds

    with ThreadPoolExecutor(max_workers=10) as pool:
        seconds = [s for found in pool.map(reserve, range(10)) for s in found]

    # THEN no second got more than 50, and the 16 lanes filled evenly: 4 or 5 seconds for 200
    per_second = Counter(seconds)
    assert max(per_second.values()) <= 50 and sum(per_second.values()) == 200
    assert max(per_second) - min(per_second) <= 4 and min(per_second) == int(NOW.timestamp())
    assert len(lane_items()) == 16


def test_given_a_deferred_visit_that_comes_back_after_its_second_then_it_takes_a_new_slot_not_a_full_second(ready):
    # GIVEN 4 emails due at 08:00:00 at 3 a second: the fourth is deferred to 08:00:01
    readers = contacts(7)
    fourth = [email_app.lambda_handler(email(c, n), FakeLambdaContext()) for n, c in enumerate(readers[:4])][3]
    assert fourth["detail"]["deferred_until"] == "2026-11-02T08:00:01Z"

    # WHEN its Task comes back late, at 08:00:02 (throttled and retried), after 3 others filled that second
    ready.at = NOW + timedelta(seconds=2)
    entered = "2026-11-02T08:00:02.100Z"
    others = [email_app.lambda_handler(email(c, n, entered), FakeLambdaContext()) for n, c in enumerate(readers[4:], 4)]
    late = email_app.lambda_handler(email(readers[3], 3, "2026-11-02T08:00:02.200Z"), FakeLambdaContext())

    # THEN the second it came back in keeps its 3 sends: it is deferred again, to 08:00:03
    assert [o["outcome"] for o in others] == ["done", "done", "done"]
    assert late["outcome"] == "deferred" and late["detail"]["deferred_until"] == "2026-11-02T08:00:03Z"
    assert len(sent_emails()) == 6
