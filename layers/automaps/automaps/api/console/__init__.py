"""The team's read-only web console, independent of the HTTP plumbing.

``functions/console/app.py`` routes the admin API's ``/console`` routes here:

* ``GET /console/`` the page (``static/index.html``), ``GET /console/static/{name}`` its script
  and style sheet, ``GET /console/settings`` how to sign in (the Cognito hosted sign-in's domain
  and app client, from the SSM parameter ``CONSOLE_SETTINGS_PARAMETER``; ``null`` where there
  is none, as on ``automaps serve``): public, they hold no data
* ``GET /console/api/maps``: every map in the registry with its contacts entered, active, exited
* ``GET /console/api/maps/{map_id}``: the map drawn as SVG with its numbers per step, and the numbers
* ``GET /console/api/contacts?q=<email|phone|tag>[&next=]``: the contacts found (a tag is looked for a
  page of the table at a time: ``next`` goes on where the page ended)
* ``GET /console/api/contacts/{contact_id}[?limit=&next=]``: profile, enrollments, a page of the
  timeline (newest first; ``next`` names the older page) and, on the first page, the ``explain`` text

The ``/console/api/`` routes are authorised by the Cognito user pool (template.yaml:
ConsoleSignIn); the page keeps the ID token in sessionStorage and sends it as the
Authorization header. Every answer carries :func:`security_headers` (a CSP without inline
script, no framing, no sniffing, no caching of data).
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from automaps.replies import Reply, json_reply

STATIC = Path(__file__).parent / "static"
ASSETS = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
BASE = re.compile(r"^(/[A-Za-z0-9._~-]+)*/console/$")
MAP_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
CONTACT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_QUERY = 320
SEARCHES = ("q", "email", "phone", "tag")
SETTINGS_PARAMETER = "CONSOLE_SETTINGS_PARAMETER"
LOG = logging.getLogger(__name__)
_settings: dict[str, Any] = {}


def security_headers(connect: str | None = None) -> dict[str, str]:
    """No inline script or style, nothing from elsewhere but the sign-in domain's token endpoint."""
    sources = "'self'" + (f" {connect}" if connect else "")
    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {sources}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def _reply(status: int, payload: Any) -> Reply:
    reply = json_reply(status, payload)
    reply.headers.update(security_headers())
    return reply


def _problem(status: int, message: str) -> Reply:
    return _reply(status, {"message": message})


# ---------------------------------------------------------------- the page (public, no data)


def base_of(request_path: str | None, resource_path: str | None) -> str:
    """Where the console lives for the browser: ``/v1/console/`` (the stage's path before the
    resource's), ``/console/`` when the request came without a stage prefix."""
    full = (request_path or "").rstrip("/")
    path = (resource_path or "/console").rstrip("/")
    root = full[: -len(path)] if path and full.endswith(path) else ""
    base = f"{root}/console/"
    return base if BASE.match(base) else "/console/"


def page(base: str) -> Reply:
    if not BASE.match(base):
        base = "/console/"
    text = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{base}}", html.escape(base, quote=True))
    signin = sign_in_settings()
    headers = security_headers(signin["domain"] if signin else None)
    return Reply(200, text, "text/html; charset=utf-8", headers)


def asset(name: str) -> Reply:
    kind = ASSETS.get(name)
    if kind is None:
        return _problem(404, f"no console file {name!r}")
    headers = security_headers() | {"Cache-Control": "public, max-age=300"}
    return Reply(200, (STATIC / name).read_text(encoding="utf-8"), kind, headers)


def sign_in_settings() -> dict[str, str] | None:
    """``{"domain": "https://<prefix>.auth.<region>.amazoncognito.com", "client_id": ..., "region": ...}``
    from the SSM parameter the stack writes (read once per process), or None where there is none."""
    name = os.environ.get(SETTINGS_PARAMETER)
    if not name:
        return None
    if name not in _settings:
        from botocore.exceptions import ClientError

        from automaps import aws

        try:
            value = aws.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as error:  # none (automaps serve), not yet (the stack is deploying), not readable
            code = error.response.get("Error", {}).get("Code")
            if code != "ParameterNotFound":
                LOG.warning("console sign-in settings %s unreadable: %s", name, code)
            return None
        _settings[name] = json.loads(value)
    found = _settings[name]
    return {key: str(found[key]) for key in ("domain", "client_id", "region") if key in found}


def settings() -> Reply:
    return _reply(200, {"sign_in": sign_in_settings()})


# ---------------------------------------------------------------- maps


def _registry() -> dict[str, Any]:
    from automaps.journeys.enrollment import registered_maps

    return {record.id: record for record in registered_maps()}


def maps() -> Reply:
    from automaps.journeys import stats

    registry = _registry()
    counted = {numbers["map_id"]: numbers for numbers in stats.read_all(list(registry.values()))}
    listed = []
    for map_id, record in sorted(registry.items()):
        numbers = counted.get(map_id) or {}
        source = record.source or {}
        listed.append(
            {
                "id": map_id,
                "name": source.get("name") or map_id,
                "kind": record.kind,
                "entered": numbers.get("entered"),
                "active": numbers.get("active"),
                "exited": numbers.get("exited"),
            }
        )
    return _reply(200, {"maps": listed})


def map_detail(map_id: str) -> Reply:
    if not MAP_ID.match(map_id):
        return _problem(400, "a map id is lower-case letters, digits and dashes")
    from automaps.journeys.enrollment import map_record

    record = map_record(map_id)  # one GetItem (the maps list reads them all)
    if record is None:
        return _problem(404, f"no map {map_id!r} in the registry (automaps push writes it)")
    from automaps.journeys import stats

    numbers = stats.read_map(map_id, record)
    svg: str | None = None
    drawing: str | None = "pushed before the registry kept the map: push it again to draw it"
    if record.source is not None:
        from pydantic import ValidationError

        from automaps.maps.graph import to_svg
        from automaps.maps.model import Map

        try:
            svg, drawing = to_svg(Map.model_validate(record.source), numbers.get("steps")), None
        except ValidationError as error:  # pushed by an older release whose map format this one does not read
            drawing = (
                f"the registry's copy of the map does not load here ({error.error_count()} problems): push it again"
            )
    source = record.source or {}
    return _reply(
        200,
        {
            "map": {"id": map_id, "name": source.get("name") or map_id, "description": source.get("description")},
            "svg": svg,
            "drawing_problem": drawing,
            "stats": numbers,
            "steps": list((numbers or {}).get("steps") or {}),  # reading order (the JSON's keys are sorted)
        },
    )


# ---------------------------------------------------------------- contacts


def search_query(query: dict[str, str]) -> dict[str, str] | str:
    """The contacts search ``?q=`` means: an email (has an @), a phone (digits, spaces, + - ( )),
    else a tag; ``?email=``, ``?phone=``, ``?tag=`` say it outright. A problem is a str."""
    given = {key: (query.get(key) or "").strip() for key in SEARCHES}
    given = {key: value for key, value in given.items() if value}
    if len(given) != 1:
        return "pass one of ?q=, ?email=, ?phone=, ?tag="
    ((key, text),) = given.items()
    if len(text) > MAX_QUERY:
        return f"a search is at most {MAX_QUERY} characters"
    if key == "q":
        key = "email" if "@" in text else "phone" if re.fullmatch(r"\+?[0-9 ()./-]{6,}", text) else "tag"
    return {key: text} | ({"next": query["next"]} if query.get("next") else {})


def search(query: dict[str, str]) -> Reply:
    asked = search_query(query)
    if isinstance(asked, str):
        return _problem(400, asked)
    from automaps.api import contacts

    found = contacts.search(asked)
    return _passed(found)


def contact(contact_id: str, query: dict[str, str] | None = None) -> Reply:
    if not CONTACT_ID.match(contact_id):
        return _problem(400, "a contact id is letters, digits, _ and -")
    from automaps.api import contacts

    paging = {key: value for key, value in (query or {}).items() if key in ("limit", "next") and value}
    found = contacts.read(contact_id, paging)
    if found.status != 200:
        return _passed(found)
    payload = json.loads(found.body)
    if "next" in paging:  # an older page of the timeline: the account in words came with the first
        return _reply(200, payload)
    from automaps.journeys.explain import ExplainError, explain

    contact_id = payload.get("contact", {}).get("id") or contact_id
    try:
        payload["explain"] = explain(contact_id).text()
    except ExplainError as error:
        payload["explain"] = f"No explanation: {error}"
    return _reply(200, payload)


def _passed(reply: Reply) -> Reply:
    """The contacts API's answer as the console's (JSON, with the console's headers)."""
    body = reply.body.decode("utf-8") if isinstance(reply.body, bytes) else reply.body
    try:
        payload = json.loads(body)
    except ValueError:
        return _problem(502, "the contacts API answered something that is not JSON")
    return _reply(reply.status, payload)
