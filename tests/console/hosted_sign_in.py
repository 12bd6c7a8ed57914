"""A stand-in for Cognito's hosted sign-in (the OAuth 2.0 endpoints of a user pool domain), on a
loopback port, over moto's cognito-idp: ``/oauth2/authorize`` shows a sign-in form and, for a
user whose password the pool accepts, redirects to the registered callback with a one-time code;
``/oauth2/token`` exchanges the code for the pool's tokens only with the PKCE verifier of the
challenge it was issued for (S256), the same client and redirect URI; ``/logout`` redirects to a
registered sign-out URL. What it saw is kept in ``exchanges`` for the tests."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response


@dataclass
class HostedSignIn:
    pool_id: str
    client_id: str
    callback: str  # the app client's only CallbackURL (and LogoutURL)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    exchanges: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        routes = {
            ("GET", "/oauth2/authorize"): self.authorize_form,
            ("POST", "/oauth2/authorize"): self.authorize,
            ("POST", "/oauth2/token"): self.token,
            ("GET", "/logout"): self.logout,
        }
        handler = routes.get((request.method, request.path))
        response = handler(request) if handler else Response("not found", 404)
        return response(environ, start_response)

    def _problem(self, text: str, status: int = 400) -> Response:
        return Response(text, status)

    def authorize_form(self, request: Request) -> Response:
        asked = request.args
        if asked.get("client_id") != self.client_id or asked.get("redirect_uri") != self.callback:
            return self._problem("redirect_mismatch")
        if asked.get("response_type") != "code" or asked.get("code_challenge_method") != "S256":
            return self._problem("unsupported: only the code grant with PKCE S256")
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in asked.items()
        )
        page = (
            '<!doctype html><html lang="en"><title>Sign in</title><link rel="icon" href="data:,"><main><h1>Sign in</h1>'
            f'<form method="post">{hidden}<label>Email <input name="username" type="email"></label>'
            '<label>Password <input name="password" type="password"></label>'
            '<button type="submit">Sign in</button></form></main></html>'
        )
        return Response(page, mimetype="text/html")

    def authorize(self, request: Request) -> Response:
        import boto3
        from botocore.exceptions import ClientError

        form = request.form
        try:
            signed_in = boto3.client("cognito-idp").admin_initiate_auth(
                UserPoolId=self.pool_id,
                ClientId=self.client_id,
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": form["username"], "PASSWORD": form["password"]},
            )
        except ClientError:
            return self._problem("Incorrect username or password.", 401)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"tokens": signed_in["AuthenticationResult"], **form.to_dict()}
        query = urlencode({"code": code, "state": form.get("state", "")})
        return Response(status=302, headers={"Location": f"{self.callback}?{query}"})

    def token(self, request: Request) -> Response:
        form = request.form.to_dict()
        self.exchanges.append(form)
        issued = self.codes.pop(form.get("code", ""), None)  # a code is good once
        headers = {"Access-Control-Allow-Origin": "*"}
        if issued is None or form.get("grant_type") != "authorization_code":
            return Response('{"error":"invalid_grant"}', 400, headers, mimetype="application/json")
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if (
            challenge != issued["code_challenge"]
            or form.get("client_id") != self.client_id
            or form.get("redirect_uri") != self.callback
        ):
            return Response('{"error":"invalid_grant"}', 400, headers, mimetype="application/json")
        tokens = issued["tokens"]
        body = {
            "id_token": tokens["IdToken"],
            "access_token": tokens["AccessToken"],
            "refresh_token": tokens.get("RefreshToken"),
            "expires_in": tokens.get("ExpiresIn", 3600),
            "token_type": "Bearer",
        }
        import json

        return Response(json.dumps(body), 200, headers, mimetype="application/json")

    def logout(self, request: Request) -> Response:
        if request.args.get("client_id") != self.client_id or request.args.get("logout_uri") != self.callback:
            return self._problem("logout_uri not registered")
        return Response(status=302, headers={"Location": self.callback})
