"""The console in the deploy rehearsal: the stack creates its Cognito user pool (admin-created
users only), hosted sign-in domain and PKCE app client, and the sign-in settings the page reads;
its JSON routes are behind the pool's authorizer (the page public, the admin routes still IAM);
a request without a token is refused and an ID token moto's cognito-idp issues for a team member
is accepted, after which the console's handler answers from the stack's tables."""

from __future__ import annotations

import json

import boto3
import pytest

from automaps.api import console
from automaps_local.cli import main
from tests.conftest import ROOT, load_event
from tests.console.cognito import Unauthorized, guard, verify_id_token

PASSWORD = "Correct-Horse-Battery-9"  # meets the pool's policy: 14+ characters, all four kinds


@pytest.fixture
def console_env(rehearsal, monkeypatch):
    """GIVEN the stack's content pushed and the console function's environment as the stack set it."""
    assert main(["push", "--stack-name", rehearsal.name, "--root", str(ROOT)]) == 0
    configuration = boto3.client("lambda").get_function_configuration(FunctionName=rehearsal.physical["ConsoleFunction"])
    for name, value in configuration["Environment"]["Variables"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(console, "_settings", {})  # what a fresh Lambda instance has read: nothing yet
    return rehearsal


def header(answer: dict, name: str) -> str:
    """A header of the proxy response (Powertools answers REST APIs with multiValueHeaders)."""
    return (answer.get("headers") or {}).get(name) or answer["multiValueHeaders"][name][-1]


def team_member_token(pool_id: str, client_id: str, email: str) -> str:
    """What docs/deploy.md tells an admin to do, then the team member signing in: an ID token."""
    idp = boto3.client("cognito-idp")
    idp.admin_create_user(UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}])
    idp.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=PASSWORD, Permanent=True)
    signed_in = idp.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})
    return signed_in["AuthenticationResult"]["IdToken"]


def test_given_the_stack_then_it_holds_the_console_user_pool_its_sign_in_domain_and_pkce_client(rehearsal):
    idp = boto3.client("cognito-idp")
    pool_id = rehearsal.physical["ConsoleUserPool"]

    # THEN the outputs name the console's URL and its user pool
    assert rehearsal.outputs["ConsoleUserPoolId"] == pool_id
    console_url = rehearsal.outputs["ConsoleUrl"]
    assert console_url == rehearsal.outputs["AdminApiUrl"] + "/console"
    # AND the pool takes no self sign-up, wants strong passwords, offers TOTP MFA
    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 14
    assert all(pool["Policies"]["PasswordPolicy"][f"Require{kind}"] for kind in ("Lowercase", "Uppercase", "Numbers", "Symbols"))
    assert pool["MfaConfiguration"] == "OPTIONAL"
    # AND its hosted sign-in domain is the stack's (automaps-<stack id>)
    domain = rehearsal.physical["ConsoleUserPoolDomain"]
    assert domain.startswith("automaps-") and idp.describe_user_pool_domain(Domain=domain)["DomainDescription"]
    # AND the app client is a public one (no secret) for the code grant, its callback the console
    client = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=rehearsal.physical["ConsoleUserPoolClient"])
    client = client["UserPoolClient"]
    assert "ClientSecret" not in client
    assert client["AllowedOAuthFlows"] == ["code"] and client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["CallbackURLs"] == [console_url] and client["LogoutURLs"] == [console_url]
    assert set(client["AllowedOAuthScopes"]) == {"openid", "email", "profile"}
    # AND the settings the page reads name that domain and client
    settings = json.loads(boto3.client("ssm").get_parameter(Name=rehearsal.physical["ConsoleSettings"])["Parameter"]["Value"])
    assert settings == {"domain": f"https://{domain}.auth.us-east-1.amazoncognito.com",
                        "client_id": client["ClientId"], "region": "us-east-1"}


def test_given_the_admin_api_then_the_console_json_is_behind_the_pool_the_page_public_the_admin_routes_iam(rehearsal):
    body = rehearsal.template["Resources"]["AdminApi"]["Properties"]["Body"]
    pool = [{"Fn::GetAtt": ["ConsoleUserPool", "Arn"]}]
    for path in ("/console/api/maps", "/console/api/maps/{map_id}", "/console/api/contacts",
                 "/console/api/contacts/{contact_id}"):
        assert guard(body, path, "GET") == {"name": "ConsoleSignIn", "type": "cognito_user_pools", "providers": pool}
    for path in ("/console", "/console/static/{name}", "/console/settings"):
        assert guard(body, path, "GET")["name"] == "NONE", path
    console_paths = {p for p in body["paths"] if p.startswith("/console")}
    for path, methods in body["paths"].items():
        if path not in console_paths:
            for method in methods:
                assert guard(body, path, method)["type"] == "awsSigv4", (path, method)


def test_given_a_team_member_when_signed_in_then_their_id_token_is_accepted_and_none_or_another_pools_refused(
        console_env, lambda_context):
    from functions.console import app

    stack = console_env
    idp = boto3.client("cognito-idp")
    pool_id, client_id = stack.physical["ConsoleUserPool"], stack.physical["ConsoleUserPoolClient"]
    token = team_member_token(pool_id, client_id, "sam@example.com")

    # WHEN a request comes without a token, or with another pool's
    other = idp.create_user_pool(PoolName="elsewhere", UsernameAttributes=["email"])["UserPool"]["Id"]
    other_client = idp.create_user_pool_client(UserPoolId=other, ClientName="x")["UserPoolClient"]["ClientId"]
    stranger = team_member_token(other, other_client, "eve@example.com")
    # THEN the authorizer refuses them (API Gateway answers 401 without calling the function)
    for refused in (None, "", "not-a-token", stranger, token[:-4] + "AAAA"):
        with pytest.raises(Unauthorized):
            verify_id_token(refused, pool_id, {client_id}, "us-east-1")

    # WHEN the team member's ID token comes
    claims = verify_id_token(token, pool_id, {client_id}, "us-east-1")
    assert claims["email"] == "sam@example.com"
    event = load_event("console_api_maps.json")
    event["headers"]["Authorization"] = event["multiValueHeaders"]["Authorization"][0] = token
    event["requestContext"]["authorizer"] = {"claims": claims}
    answer = app.lambda_handler(event, lambda_context)

    # THEN the console's handler answers the stack's maps, with the console's headers
    assert answer["statusCode"] == 200, answer["body"]
    listed = {m["id"] for m in json.loads(answer["body"])["maps"]}
    assert {"welcome-leads", "lead-nurture"} <= listed
    assert header(answer, "X-Frame-Options") == "DENY"
    # AND a contact in the stack's table is found by email
    from automaps.store.contacts import ContactStore

    ann, _ = ContactStore().upsert_by_email("ann@example.com", {"first_name": "Ann"})
    search = load_event("console_api_contacts.json")
    search["headers"]["Authorization"] = search["multiValueHeaders"]["Authorization"][0] = token
    search["requestContext"]["authorizer"] = {"claims": claims}
    found = app.lambda_handler(search, lambda_context)
    assert found["statusCode"] == 200, found["body"]
    assert [c["id"] for c in json.loads(found["body"])["contacts"]] == [ann.id]


def test_given_the_stack_then_the_page_tells_the_browser_its_sign_in_and_allows_only_its_token_endpoint(
        console_env, lambda_context):
    from functions.console import app

    stack = console_env
    domain = f"https://{stack.physical['ConsoleUserPoolDomain']}.auth.us-east-1.amazoncognito.com"

    # WHEN the browser asks for the sign-in settings and the page
    settings_event = load_event("console_page.json") | {"resource": "/console/settings", "path": "/console/settings"}
    settings = app.lambda_handler(settings_event, lambda_context)
    page = app.lambda_handler(load_event("console_page.json"), lambda_context)

    # THEN the settings name the hosted sign-in and the app client
    assert json.loads(settings["body"])["sign_in"] == {
        "domain": domain, "client_id": stack.physical["ConsoleUserPoolClient"], "region": "us-east-1"}
    # AND the page's CSP lets scripts talk to its own origin and that sign-in domain only
    assert page["statusCode"] == 200
    policy = header(page, "Content-Security-Policy")
    assert f"connect-src 'self' {domain};" in policy and "default-src 'self'" in policy
    assert 'data-base="/v1/console/"' in page["body"]


@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")
def test_given_a_custom_domain_callback_then_sign_in_returns_to_both_urls():
    from automaps_local.rehearsal import rehearsed
    from tests.rehearsal.conftest import PARAMETERS

    custom = "https://admin.example.com/console"
    # GIVEN the stack deployed with ConsoleCallbackUrl (the admin API behind a custom domain)
    with rehearsed("automaps", ROOT, PARAMETERS | {"ConsoleCallbackUrl": custom}) as stack:
        client = boto3.client("cognito-idp").describe_user_pool_client(
            UserPoolId=stack.physical["ConsoleUserPool"], ClientId=stack.physical["ConsoleUserPoolClient"])
        urls = client["UserPoolClient"]
    # THEN the client returns to and signs out at the execute-api URL and the custom one
    assert urls["CallbackURLs"] == urls["LogoutURLs"] == [stack.outputs["ConsoleUrl"], custom]
