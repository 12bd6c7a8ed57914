"""WordPress sites, through the REST API's users routes (``/wp-json/wp/v2/users``).

A ``wordpress`` connection names the site, a user allowed to manage users (``promote_users``,
``create_users``) and the Secrets Manager secret holding that user's application password
(Users > Profile > Application Passwords); requests use HTTP Basic auth with them.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from automaps.providers.adapters import (
    check_base_url,
    check_secret_arn,
    load_connection,
    secret,
)
from automaps.providers.http import JsonClient

USERS = "/wp-json/wp/v2/users"


class WordPressConnection(BaseModel):
    """``type: wordpress``: a WordPress site whose users we manage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["wordpress"]
    url: str = Field(description="the site's address, e.g. https://members.example.com")
    username: str = Field(min_length=1, description="a user allowed to create users and change their roles")
    secret_arn: str = Field(
        description="Secrets Manager secret holding that user's application password, "
        "as the whole value or under 'password' in a JSON object"
    )
    description: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_base_url(value)

    @field_validator("secret_arn")
    @classmethod
    def _secret_arn(cls, value: str) -> str:
        return check_secret_arn(value)


@dataclass(frozen=True)
class User:
    id: int
    roles: tuple[str, ...]


class WordPress:
    def __init__(self, name: str, connection: WordPressConnection) -> None:
        self.name = name
        password = secret(connection.secret_arn, "password")
        token = base64.b64encode(f"{connection.username}:{password}".encode()).decode()
        self.http = JsonClient("WordPress", connection.url, {"Authorization": f"Basic {token}"})

    def find_user(self, email: str) -> User | None:
        """The user whose email is ``email`` (WordPress's search also matches substrings)."""
        found = self.http.request("GET", USERS, query={"search": email, "context": "edit", "per_page": 100}) or []
        wanted = email.strip().lower()
        for user in found:
            if str(user.get("email", "")).strip().lower() == wanted:
                return _user(user)
        return None

    def create_user(self, email: str, roles: list[str], first_name: str = "", last_name: str = "") -> User:
        """A new user named by the email, with a random password (they set theirs through
        "Lost your password?")."""
        body = {
            "username": email,
            "email": email,
            "password": secrets.token_urlsafe(24),
            "roles": roles,
            **({"first_name": first_name} if first_name else {}),
            **({"last_name": last_name} if last_name else {}),
        }
        return _user(self.http.request("POST", USERS, json_body=body))

    def set_roles(self, user: int, roles: list[str]) -> User:
        return _user(self.http.request("POST", f"{USERS}/{user}", json_body={"roles": roles}))


def _user(body: Any) -> User:
    return User(id=int(body["id"]), roles=tuple(body.get("roles") or ()))


def connect(name: str) -> WordPress:
    """The WordPress site behind connection ``name``; PermanentError if there is none."""
    return WordPress(name, load_connection(name, {"wordpress"}, "a WordPress site"))


def check_role(value: str) -> str:
    """A role slug a map may grant or revoke: never ``administrator``."""
    value = value.strip()
    if not value or not all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in value) or value != value.lower():
        raise ValueError(f"{value!r} is not a WordPress role slug; use the role's slug, e.g. 'member' or 'gold_member'")
    if value == "administrator":
        raise ValueError("a map must not grant or revoke 'administrator'; use a membership role")
    return value
