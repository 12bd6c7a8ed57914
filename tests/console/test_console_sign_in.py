"""Signing in to the console in a real headless browser: the page sends the team member to the
hosted sign-in (authorization code with PKCE), exchanges the code for the user pool's tokens,
keeps the ID token in sessionStorage only and sends it as the Authorization header of every
JSON request; signing out forgets it. The hosted sign-in is a stand-in over moto's cognito-idp
(tests/console/hosted_sign_in.py): the tokens are the pool's, checked as API Gateway's
authorizer checks them."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from werkzeug.serving import make_server

from automaps.api import console
from tests.console.cognito import verify_id_token
from tests.console.conftest import CHROMIUM, Served, shot
from tests.console.hosted_sign_in import HostedSignIn

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make test installs it)"),
]
PASSWORD = "Correct-Horse-Battery-9"


@pytest.fixture(scope="module")
def sign_in(served: Served) -> Iterator[HostedSignIn]:
    """GIVEN a user pool with an app client whose callback is the console, a team member in it
    (created by an admin), its hosted sign-in on another loopback port, and the console's
    sign-in settings pointing there (as the stack's ConsoleSettings parameter does)."""
    idp = boto3.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="automaps-console", UsernameAttributes=["email"])["UserPool"]["Id"]
    callback = f"{served.url}/v1/console"
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="console", AllowedOAuthFlows=["code"], CallbackURLs=[callback]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="sam@example.com", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username="sam@example.com", Password=PASSWORD, Permanent=True)
    hosted = HostedSignIn(pool, client, callback)
    server = make_server("127.0.0.1", 0, hosted, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    domain = f"http://127.0.0.1:{server.server_port}"
    boto3.client("ssm").put_parameter(
        Name=os.environ[console.SETTINGS_PARAMETER],
        Type="String",
        Value=json.dumps({"domain": domain, "client_id": client, "region": "us-east-1"}),
    )
    console._settings.clear()
    try:
        yield hosted
    finally:
        boto3.client("ssm").delete_parameter(Name=os.environ[console.SETTINGS_PARAMETER])
        console._settings.clear()
        server.shutdown()
        server.server_close()


def test_given_sign_in_settings_when_a_team_member_signs_in_then_the_id_token_goes_with_every_request(
    served: Served, sign_in: HostedSignIn, page: Any
) -> None:
    sent: list[dict[str, str]] = []
    page.on("request", lambda r: sent.append({"url": r.url, **r.headers}) if "/console/api/" in r.url else None)

    # WHEN the console is opened without a token
    page.goto(f"{served.url}/v1/console")
    button = page.get_by_role("button", name="Sign in")
    button.wait_for()

    # THEN it asks for sign-in, shows no data, and asked the API nothing
    assert page.get_by_role("alert").inner_text() == "Sign in to see the console."
    assert page.locator("#view-maps").is_hidden() and sent == []
    shot(page, "sign-in")

    # WHEN the team member signs in on the hosted page (reached from the button by keyboard)
    button.focus()
    page.keyboard.press("Enter")
    page.get_by_label("Email").fill("sam@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#maps-table tbody a").first.wait_for()

    # THEN the code was exchanged with the PKCE verifier, and the URL no longer shows the code
    [exchange] = sign_in.exchanges
    assert exchange["grant_type"] == "authorization_code" and len(exchange["code_verifier"]) >= 43
    assert exchange["redirect_uri"] == f"{served.url}/v1/console"
    assert page.url == f"{served.url}/v1/console#/maps"
    # AND the ID token is kept for the tab only (sessionStorage; no cookie, nothing in localStorage)
    assert page.evaluate("localStorage.length") == 0 and page.evaluate("document.cookie") == ""
    stored = json.loads(page.evaluate("sessionStorage.getItem('automaps.console.token')"))
    # AND each JSON request carried it, an ID token the pool's authorizer accepts
    assert sent and all(request.get("authorization") == stored["id_token"] for request in sent)
    claims = verify_id_token(stored["id_token"], sign_in.pool_id, {sign_in.client_id}, "us-east-1")
    assert claims["email"] == "sam@example.com"
    assert page.locator("#who").inner_text() == "Signed in as sam@example.com"

    # WHEN they sign out
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()

    # THEN the token is gone and the console asks for sign-in again
    assert page.evaluate("sessionStorage.getItem('automaps.console.token')") is None
    assert page.get_by_role("alert").inner_text() == "Sign in to see the console."


def test_given_a_replayed_code_or_a_forged_state_then_no_token_is_kept(
    served: Served, sign_in: HostedSignIn, page: Any
) -> None:
    # WHEN the console is opened with a code and a state it did not ask for (a forged callback)
    page.goto(f"{served.url}/v1/console?code=stolen&state=forged")
    page.get_by_role("button", name="Sign in").wait_for()

    # THEN it says so, exchanges nothing, keeps no token
    assert "did not complete" in page.get_by_role("alert").inner_text()
    assert [e for e in sign_in.exchanges if e.get("code") == "stolen"] == []
    assert page.evaluate("sessionStorage.getItem('automaps.console.token')") is None
