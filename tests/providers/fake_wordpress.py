"""A fake WordPress site on 127.0.0.1 answering the REST API's users routes as WordPress does
(https://developer.wordpress.org/rest-api/reference/users/): Basic auth with an application
password, ``search`` as a substring match (``*term*``) over login, email, URL and names,
``context=edit`` needing an authenticated user, JSON bodies, ``{"code", "message", "data"}``
errors (401 incorrect_password, 400 existing_user_email, 400 rest_user_invalid_role,
404 rest_user_invalid_id)."""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from tests.providers.server import FakeProvider, Received

USERNAME = "automaps"
APP_PASSWORD = "abcd EFGH 1234 ijkl MNOP 6789"
ROLES = {"administrator", "editor", "author", "contributor", "subscriber", "member", "gold_member"}


def error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message, "data": {"status": status}}


@dataclass
class FakeWordPress(FakeProvider):
    users: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(2)
        self.users[1] = {"id": 1, "username": USERNAME, "email": "admin@example.com", "name": "automaps",
                         "first_name": "", "last_name": "", "roles": ["administrator"]}

    def user(self, email: str, roles: list[str] | None = None, username: str | None = None) -> int:
        """GIVEN a user on the site."""
        id_ = next(self._ids)
        self.users[id_] = {"id": id_, "username": username or email, "email": email, "name": username or email,
                           "first_name": "", "last_name": "", "roles": list(roles or ["subscriber"])}
        return id_

    def by_email(self, email: str) -> dict[str, Any] | None:
        return next((u for u in self.users.values() if u["email"].lower() == email.lower()), None)

    # ---------------------------------------------------------------- the API

    def handle(self, request: Received) -> tuple[int, Any]:
        authorization = request.header("Authorization") or ""
        if authorization:
            expected = "Basic " + base64.b64encode(f"{USERNAME}:{APP_PASSWORD}".encode()).decode()
            if authorization != expected:
                return error(401, "incorrect_password", "The provided password is an invalid application password.")
        elif request.method != "GET" or dict(request.query).get("context") == "edit":
            return error(401, "rest_forbidden_context", "Sorry, you are not allowed to list users.")
        body = json.loads(request.body) if request.body else {}
        if (request.method, request.path) == ("GET", "/wp-json/wp/v2/users"):
            return 200, self._search(dict(request.query))
        if (request.method, request.path) == ("POST", "/wp-json/wp/v2/users"):
            return self._create(body)
        if (found := re.fullmatch(r"/wp-json/wp/v2/users/(\d+)", request.path)) and request.method == "POST":
            return self._update(int(found[1]), body)
        return error(404, "rest_no_route", "No route was found matching the URL and request method.")

    def _search(self, query: dict[str, str]) -> list[dict[str, Any]]:
        term = query.get("search", "").lower()
        fields = ("username", "email", "name")
        found = [u for u in self.users.values() if not term or any(term in u[f].lower() for f in fields)]
        return [self._view(u, query.get("context", "view")) for u in found][: int(query.get("per_page", 10))]

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        for required in ("username", "email", "password"):
            if not body.get(required):
                return error(400, "rest_missing_callback_param", f"Missing parameter(s): {required}")
        if self.by_email(body["email"]):
            return error(400, "existing_user_email", "Sorry, that email address is already used!")
        if any(u["username"] == body["username"] for u in self.users.values()):
            return error(400, "existing_user_login", "Sorry, that username already exists!")
        if set(body.get("roles", [])) - ROLES:
            return error(400, "rest_user_invalid_role", "Sorry, you are not allowed to give users that role.")
        id_ = next(self._ids)
        self.users[id_] = {"id": id_, "username": body["username"], "email": body["email"],
                           "name": body.get("name") or body["username"], "first_name": body.get("first_name", ""),
                           "last_name": body.get("last_name", ""), "roles": list(body.get("roles", ["subscriber"])),
                           "_password": body["password"]}
        return 201, self._view(self.users[id_], "edit")

    def _update(self, id_: int, body: dict[str, Any]) -> tuple[int, Any]:
        user = self.users.get(id_)
        if user is None:
            return error(404, "rest_user_invalid_id", "Invalid user ID.")
        if "roles" in body:
            if set(body["roles"]) - ROLES:
                return error(400, "rest_user_invalid_role", "Sorry, you are not allowed to give users that role.")
            user["roles"] = list(body["roles"])
        return 200, self._view(user, "edit")

    @staticmethod
    def _view(user: dict[str, Any], context: str) -> dict[str, Any]:
        public = {"id": user["id"], "name": user["name"], "slug": user["username"]}
        if context == "edit":
            public |= {k: v for k, v in user.items() if not k.startswith("_")}
        return public
