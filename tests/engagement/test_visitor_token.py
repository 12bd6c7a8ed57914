"""The click redirect hands the visitor token (``am_c``, a 400-day identity) only to the user's own
sites: destinations on ``TRACKED_DOMAINS`` (template parameter ``TrackedDomains``) and their
subdomains. A third-party destination gets the plain address, and so does every destination when
no domain is configured."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from automaps.intake import engagement
from automaps.channels import tracking

CLICKED_AT = datetime(2026, 11, 2, 9, 15, tzinfo=UTC)


def click(jane, destination: str) -> str:
    """WHEN Jane clicks a tracked link to ``destination`` in an email: the redirect's Location."""
    email = tracking.TrackedEmail(contact_id=jane.id, map_id="welcome-leads", step_id="welcome-email",
                                  template="welcome", message_id="m-1", connection="office")
    token = tracking.click_url(email, destination).rsplit("/", 1)[1]
    reply = engagement.click_redirect(token, engagement.TrackingRequest.of("req-1", None))
    assert reply.status == 302
    return reply.headers["Location"]


def visitor_of(location: str) -> list[str]:
    return parse_qs(urlsplit(location).query).get(tracking.VISITOR_PARAM, [])


@pytest.mark.parametrize("destination", [
    "https://example.com/webinar?utm=mail",
    "https://www.example.com/pricing",
    "http://shop.EXAMPLE.com./cart#top",
    "https://my-shop.example/offer",
])
def test_given_a_destination_on_the_users_domains_when_clicked_then_it_carries_the_visitor_token(
        jane, monkeypatch, destination):
    monkeypatch.setenv("TRACKED_DOMAINS", " example.com, my-shop.example ")

    location = click(jane, destination)

    (token,) = visitor_of(location)
    assert tracking.read_visitor(token) == jane.id
    assert location.startswith(destination.split("#")[0])


@pytest.mark.parametrize("destination", [
    "https://partner.example.org/landing?ref=mail",
    "https://badexample.com/",                      # a lookalike, not a subdomain
    "https://example.com.evil.example/",            # the user's domain as a prefix
    "https://example.com@evil.example/",            # userinfo trick: the host is evil.example
])
def test_given_a_third_party_destination_when_clicked_then_the_address_is_passed_on_untouched(
        jane, monkeypatch, destination):
    monkeypatch.setenv("TRACKED_DOMAINS", "example.com")

    location = click(jane, destination)

    assert location == destination
    assert visitor_of(location) == []


def test_given_no_tracked_domains_configured_when_clicked_then_no_destination_gets_the_visitor_token(
        jane, monkeypatch):
    monkeypatch.delenv("TRACKED_DOMAINS", raising=False)

    assert click(jane, "https://example.com/webinar") == "https://example.com/webinar"
    assert engagement.tracked_domains() == ()


def test_given_the_setting_when_read_then_blanks_dots_and_case_are_ignored(monkeypatch):
    monkeypatch.setenv("TRACKED_DOMAINS", "Example.com., ,.shop.example,example.com")

    assert engagement.tracked_domains() == ("example.com", "shop.example")
