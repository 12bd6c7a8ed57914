"""Only the holder of the ingestion secret can post events: a missing, malformed, wrong or stale
Automaps-Signature is 401 and records nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from automaps.store.contacts import ContactStore
from automaps.intake.ingest import BadSignature, signature, verify_signature
from tests.conftest import load_event
from tests.ingest.conftest import item_count

BODY = load_event("ingest_course_completed.json")["body"]


def test_given_the_header_then_it_is_t_and_v1_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(b"s3cret", b"1795000000." + BODY.encode(), hashlib.sha256).hexdigest()

    assert signature("s3cret", BODY.encode(), 1795000000) == f"t=1795000000,v1={expected}"


@pytest.mark.parametrize(("header", "says"), [
    ("", "is missing"),
    ("v1=abc", "t=<unix seconds>"),
    ("t={t}", "t=<unix seconds>"),
    ("t=soon,v1=abc", "t=<unix seconds>"),
    ("t={t},v1=00", "no signature matches"),
])
def test_given_a_missing_or_malformed_header_then_the_request_is_refused(aws, clock, sender, jane, header, says):
    before = item_count()

    response = sender.post(header=header.format(t=int(clock.now().timestamp())))

    assert response["statusCode"] == 401 and says in response["json"]["message"]
    assert item_count() == before


def test_given_a_signature_with_another_secret_then_401_and_nothing_is_recorded(sender, jane):
    before = item_count()

    response = sender.post(secret="not-the-stack-secret")

    assert response["statusCode"] == 401 and "no signature matches" in response["json"]["message"]
    assert item_count() == before and ContactStore().events(jane.id, "course.completed") == []


def test_given_a_body_changed_after_signing_then_401(sender, clock, jane):
    now = int(clock.now().timestamp())
    signed = signature(sender.secret, BODY.encode(), now)
    changed = json.dumps({**json.loads(BODY), "course": "seo-101"})

    assert sender.post(changed, header=signed)["statusCode"] == 401
    assert ContactStore().events(jane.id, "course.completed") == []


@pytest.mark.parametrize("skew", [-301, 301, -3600 * 24])
def test_given_a_signature_older_or_newer_than_five_minutes_then_it_is_refused_as_a_replay(sender, clock, jane, skew):
    response = sender.post(sent_at=int(clock.now().timestamp()) + skew)

    assert response["statusCode"] == 401 and "300 s from now" in response["json"]["message"]
    assert ContactStore().events(jane.id, "course.completed") == []


@pytest.mark.parametrize("skew", [-299, 0, 299])
def test_given_a_signature_within_five_minutes_then_it_is_accepted(sender, clock, jane, skew):
    assert sender.post(sent_at=int(clock.now().timestamp()) + skew)["statusCode"] == 200


def test_given_two_signatures_during_a_key_rotation_then_either_may_match(sender, clock, jane):
    now = int(clock.now().timestamp())
    old = signature("the-old-secret", BODY.encode(), now).rpartition("v1=")[2]
    new = signature(sender.secret, BODY.encode(), now).rpartition("v1=")[2]

    response = sender.post(header=f"t={now},v1={old},v1={new}")

    assert response["statusCode"] == 200 and response["json"]["accepted"] == 1


def test_given_verify_signature_alone_then_it_raises_for_each_failure():
    now = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    good = signature("k", b"{}", int(now.timestamp()))

    verify_signature(good, b"{}", "k", now)
    for header, body, secret, when in [(good, b"{ }", "k", now), (good, b"{}", "K", now),
                                       (good, b"{}", "k", now + timedelta(minutes=6)), (None, b"{}", "k", now)]:
        with pytest.raises(BadSignature):
            verify_signature(header, body, secret, when)
