"""Signed link tokens: what we sign comes back; anything altered, forged or misused is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from automaps import aws as aws_clients
from automaps.channels.tracking import BadToken, read_unsubscribe, sign, unsubscribe_url, verify


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_given_data_when_signed_and_verified_then_it_round_trips(aws, clock):
    token = sign("unsubscribe", {"contact_id": "c_1", "channel": "email"})

    assert verify("unsubscribe", token) == {"contact_id": "c_1", "channel": "email"}
    assert all(ch.isalnum() or ch in "-_." for ch in token)


def test_given_a_token_when_its_payload_is_decoded_then_it_holds_purpose_and_issue_time(aws, clock):
    payload = sign("unsubscribe", {"contact_id": "c_1"}).split(".")[0]

    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))

    assert body == {"p": "unsubscribe", "iat": int(clock.now().timestamp()), "d": {"contact_id": "c_1"}}


def test_given_a_token_whose_data_was_changed_when_verified_then_it_is_refused(aws, clock):
    token = sign("unsubscribe", {"contact_id": "c_1", "channel": "email"})
    signature = token.split(".")[1]
    forged_payload = b64(json.dumps({"p": "unsubscribe", "iat": 0, "d": {"contact_id": "c_2",
                                                                         "channel": "email"}}).encode())

    with pytest.raises(BadToken):
        verify("unsubscribe", f"{forged_payload}.{signature}")


@pytest.mark.parametrize("position", [0, 10, -1])
def test_given_a_token_with_one_character_flipped_when_verified_then_it_is_refused(aws, clock, position):
    token = sign("unsubscribe", {"contact_id": "c_1"})
    flipped = "A" if token[position] != "A" else "B"
    tampered = token[:position] + flipped + (token[position + 1:] if position != -1 else "")

    with pytest.raises(BadToken):
        verify("unsubscribe", tampered)


def test_given_a_token_signed_with_another_key_when_verified_then_it_is_refused(aws, clock):
    payload = b64(json.dumps({"p": "unsubscribe", "iat": 0, "d": {"contact_id": "c_1"}}).encode())
    forged = b64(hmac.new(b"not-our-secret", payload.encode(), hashlib.sha256).digest())

    with pytest.raises(BadToken):
        verify("unsubscribe", f"{payload}.{forged}")


def test_given_a_token_for_one_purpose_when_verified_for_another_then_it_is_refused(aws, clock):
    token = sign("click", {"contact_id": "c_1", "channel": "email"})

    with pytest.raises(BadToken):
        verify("unsubscribe", token)


@pytest.mark.parametrize("junk", ["", "abc", "abc.", ".abc", "a.b.c", "é.é", "%%%.%%%"])
def test_given_junk_when_verified_then_it_is_refused(aws, clock, junk):
    with pytest.raises(BadToken):
        verify("unsubscribe", junk)


def test_given_a_max_age_when_the_token_is_older_then_it_is_refused(aws, clock):
    token = sign("confirm", {"contact_id": "c_1"})
    clock.advance(days=8)

    assert verify("confirm", token, max_age=timedelta(days=30)) == {"contact_id": "c_1"}
    with pytest.raises(BadToken, match="expired"):
        verify("confirm", token, max_age=timedelta(days=7))


def test_given_a_contact_when_an_unsubscribe_url_is_made_then_it_points_at_the_public_api(aws, clock):
    url = unsubscribe_url("c_42", "sms")

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "http://localhost:3000/unsubscribe"
    request = read_unsubscribe(parse_qs(parts.query)["t"][0])
    assert (request.contact_id, request.channel) == ("c_42", "sms")


def test_given_the_secret_when_tokens_are_signed_repeatedly_then_secrets_manager_is_read_once(aws, clock):
    calls = []
    client = aws_clients.client("secretsmanager")
    client.meta.events.register("before-call.secrets-manager.GetSecretValue",
                                lambda **kwargs: calls.append(1))
    for n in range(5):
        sign("unsubscribe", {"n": n})

    assert len(calls) == 1
