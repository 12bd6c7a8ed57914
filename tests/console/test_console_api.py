"""The console's page and JSON routes through the local HTTP front, as `automaps serve` serves
them: what they answer, their security headers, bad input, and sign-in off loopback."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from html.parser import HTMLParser
from typing import Any

from werkzeug.test import Client

from automaps.api import console
from automaps_local.http import LocalApi
from tests.console.conftest import PEOPLE, Served


def get(served: Served, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
    request = urllib.request.Request(served.url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode("utf-8")


def get_json(served: Served, path: str) -> tuple[int, Any]:
    status, headers, body = get(served, path)
    assert headers["Content-Type"].startswith("application/json"), (path, headers["Content-Type"])
    return status, json.loads(body)


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data.strip()


def test_given_the_page_then_it_is_public_holds_no_data_and_forbids_inline_script_and_framing(served: Served) -> None:
    # WHEN the page is fetched (with and without the stage prefix)
    status, headers, body = get(served, "/console")
    again, _, _ = get(served, "/v1/console")

    # THEN it is HTML, with a CSP of its own origin only, no framing, no sniffing, no caching
    assert (status, again) == (200, 200)
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    policy = headers["Content-Security-Policy"]
    for rule in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
                 "object-src 'none'", "base-uri 'none'", "connect-src 'self'"):
        assert rule in policy, rule
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    # AND its script is a file of its own origin: no inline script, no event attributes
    parsed = Tags()
    parsed.feed(body)
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert scripts == [{"src": "/v1/console/static/console.js", "defer": None}] and parsed.script_text == ""
    assert not [name for _, attrs in parsed.tags for name in attrs if name.startswith("on")]
    # AND it holds no contact data (no address, no contact id)
    assert "@" not in body and "c_" not in body


def test_given_the_static_files_then_they_are_served_with_their_types_and_nothing_else_is(served: Served) -> None:
    status, headers, body = get(served, "/console/static/console.js")
    assert (status, headers["Content-Type"]) == (200, "text/javascript; charset=utf-8")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", body, flags=re.S)  # without its comments
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in code, sink  # values reach the page through textContent and attributes only
    status, headers, _ = get(served, "/console/static/console.css")
    assert (status, headers["Content-Type"]) == (200, "text/css; charset=utf-8")
    assert get(served, "/console/static/index.html")[0] == 404
    status, _, body = get(served, "/console/static/..%2F__init__.py")
    assert status in (403, 404) and "import" not in body  # no route (403, as API Gateway) or no such file


def test_given_welcome_leads_run_then_the_maps_list_their_contacts_and_the_map_its_drawing_and_numbers(
    served: Served,
) -> None:
    # WHEN the maps are listed
    status, listed = get_json(served, "/console/api/maps")

    # THEN every pushed map is there; welcome-leads with its three contacts entered and active
    assert status == 200
    by_id = {m["id"]: m for m in listed["maps"]}
    assert {"welcome-leads", "lead-nurture", "customer-onboarding"} <= set(by_id)
    assert by_id["welcome-leads"] | {} == {
        "id": "welcome-leads", "name": "Welcome new leads", "kind": "map", "entered": 3, "active": 3, "exited": 0}

    # WHEN one map is read
    status, found = get_json(served, "/console/api/maps/welcome-leads")

    # THEN it comes drawn as SVG with its numbers on the steps, and the numbers in reading order
    assert status == 200
    assert found["svg"].startswith("<svg") and "sent 3" in found["svg"] and "waiting 3" in found["svg"]
    assert found["stats"]["steps"]["welcome-email"]["sent"] == 3
    assert found["steps"][:3] == ["tag-lead", "welcome-email", "two-days-later"]


def test_given_bad_or_unknown_map_ids_then_the_answer_says_what_is_wrong(served: Served) -> None:
    assert get_json(served, "/console/api/maps/no-such-map") == (
        404, {"message": "no map 'no-such-map' in the registry (automaps push writes it)"})
    assert get_json(served, "/console/api/maps/Not_A_Map") == (
        400, {"message": "a map id is lower-case letters, digits and dashes"})


def test_given_a_search_by_email_phone_or_tag_then_the_contacts_are_found(served: Served) -> None:
    status, by_email = get_json(served, "/console/api/contacts?q=ann%40example.com")
    assert status == 200 and [c["email"] for c in by_email["contacts"]] == ["ann@example.com"]
    assert by_email["by"] == "email"

    status, by_tag = get_json(served, "/console/api/contacts?q=lead")
    assert status == 200 and by_tag["by"] == "tag"
    assert set(PEOPLE) <= {c["email"] for c in by_tag["contacts"]}

    phone = by_email["contacts"][0]["phone"]
    status, by_phone = get_json(served, "/console/api/contacts?phone=" + urllib.request.quote(phone))
    assert status == 200 and by_phone["by"] == "phone" and by_phone["contacts"]


def test_given_a_search_without_text_or_too_long_then_it_is_refused_with_the_reason(served: Served) -> None:
    assert get_json(served, "/console/api/contacts") == (400, {"message": "pass one of ?q=, ?email=, ?phone=, ?tag="})
    assert get_json(served, "/console/api/contacts?q=" + "x" * 400) == (
        400, {"message": "a search is at most 320 characters"})
    status, answer = get_json(served, "/console/api/contacts?email=not-an-address%40")
    assert status == 400 and answer["message"].startswith("email:")


def test_given_a_contact_then_the_profile_timeline_and_explain_text_come_together(served: Served) -> None:
    contact_id = served.contact_id("bob@example.com")

    # WHEN the contact is read
    status, found = get_json(served, f"/console/api/contacts/{contact_id}")

    # THEN the profile, the enrollment, the timeline and the plain-language account are there
    assert status == 200
    assert found["contact"]["email"] == "bob@example.com"
    assert [e["map_id"] for e in found["enrollments"]] == ["welcome-leads"]
    assert "email.bounced" in [entry["kind"] for entry in found["timeline"]]
    assert found["explain"].startswith(f"Contact {contact_id} (b***@example.com")
    assert "welcome-leads" in found["explain"]


def test_given_unknown_or_bad_contact_ids_then_the_answer_says_so(served: Served) -> None:
    status, answer = get_json(served, "/console/api/contacts/c_0000")
    assert status == 404 and "no such contact" in answer["message"]
    assert get_json(served, "/console/api/contacts/bad%20id") == (400, {"message": "a contact id is letters, digits, _ and -"})


def test_given_markup_in_a_contact_then_the_json_carries_it_as_data_with_the_security_headers(served: Served) -> None:
    from automaps.store.contacts import ContactStore

    # GIVEN a contact whose name is an HTML element
    mallory, _ = ContactStore().upsert_by_email("mallory@example.com", {"first_name": "<script>alert(1)</script>"})

    # WHEN read through the console
    status, headers, body = get(served, f"/console/api/contacts/{mallory.id}")

    # THEN it is JSON (never HTML) the page shows as text, with the same headers as the page
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["contact"]["fields"]["first_name"] == "<script>alert(1)</script>"
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store" and "default-src 'self'" in headers["Content-Security-Policy"]


def test_given_the_local_api_bound_off_loopback_then_the_json_routes_refuse_without_sign_in(served: Served) -> None:
    # GIVEN the local API bound to every address (automaps serve --host 0.0.0.0): no user pool to sign in with
    exposed = Client(LocalApi(served.runtime, host="0.0.0.0"))

    # THEN the page is served (public, no data), and every JSON route answers 401 as API Gateway would
    assert exposed.get("/console", headers={"Host": "192.0.2.10:3000"}).status_code == 200
    for path in ("/console/api/maps", "/console/api/maps/welcome-leads", "/console/api/contacts?q=lead",
                 f"/console/api/contacts/{served.contact_id('ann@example.com')}"):
        refused = exposed.get(path, headers={"Host": "192.0.2.10:3000"})
        assert (refused.status_code, refused.json) == (401, {"message": "Unauthorized"}), path
    # AND the admin routes are unchanged (IAM auth is not modelled locally)
    assert exposed.get("/tasks?assignee=sam@example.com", headers={"Host": "192.0.2.10:3000"}).status_code == 200


def test_given_the_loopback_api_asked_by_another_host_name_then_it_refuses_too(served: Served) -> None:
    # GIVEN a page elsewhere that rebinds its own name to 127.0.0.1 (DNS rebinding)
    status, _, body = get(served, "/console/api/maps", headers={"Host": "attacker.example:3000"})
    # THEN the console's data is not served to it
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
    # AND loopback names are served
    for host in ("localhost", "127.0.0.1", "[::1]"):
        assert get(served, "/console/api/maps", headers={"Host": f"{host}:3000"})[0] == 200, host


def test_given_request_paths_then_the_console_base_is_the_stage_path_or_the_default() -> None:
    assert console.base_of("/v1/console", "/console") == "/v1/console/"
    assert console.base_of("/console", "/console") == "/console/"
    assert console.base_of('/v1"><script>/console', "/console") == "/console/"
    assert re.fullmatch(r"/(v1/)?console/", console.base_of("/v1/console/", "/console/"))


def test_given_automaps_serve_then_its_banner_names_the_console_and_whether_it_needs_sign_in(served: Served, capsys) -> None:
    from automaps_local.serve import print_banner

    print_banner(served.runtime, "http://127.0.0.1:3000")
    print_banner(served.runtime, "http://0.0.0.0:3000")

    lines = [line.strip() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("console:")]
    assert lines == [
        "console: http://127.0.0.1:3000/console  (no sign-in on loopback)",
        "console: http://0.0.0.0:3000/console  (sign-in required: 401)",
    ]


def test_given_a_long_timeline_then_it_comes_in_pages_newest_first_with_the_account_on_the_first(
    served: Served,
) -> None:
    contact_id = served.contact_id("ann@example.com")

    # WHEN the timeline is read three entries at a time
    status, first = get_json(served, f"/console/api/contacts/{contact_id}?limit=3")
    status_older, older = get_json(
        served, f"/console/api/contacts/{contact_id}?limit=3&next=" + urllib.request.quote(first["next"])
    )

    # THEN each page holds three entries, the older after the newer, and only the first has the account
    assert (status, status_older) == (200, 200)
    assert len(first["timeline"]) == len(older["timeline"]) == 3
    assert first["timeline"][-1]["at"] >= older["timeline"][0]["at"]
    assert first["explain"].startswith("Contact") and "explain" not in older
    assert get_json(served, f"/console/api/contacts/{contact_id}?limit=0")[0] == 400


def test_given_a_registry_record_without_a_readable_map_then_the_map_answers_its_numbers_and_why_no_drawing(
    served: Served,
) -> None:
    from automaps.store.content import ContentStore

    # GIVEN the registry's records of two maps: one pushed before records kept the map, one whose copy is not a map
    content = ContentStore()
    record = content.get("MAP", "welcome-leads")
    assert record is not None
    content.put("MAP", "old-map", {**record, "id": "old-map", "source": None})
    content.put("MAP", "odd-map", {**record, "id": "odd-map", "source": {"id": "odd-map", "steps": "none"}})

    # WHEN they are read through the console
    old = get_json(served, "/console/api/maps/old-map")
    odd = get_json(served, "/console/api/maps/odd-map")

    # THEN each answers 200 without a drawing, saying why
    assert old[0] == odd[0] == 200 and old[1]["svg"] is None and odd[1]["svg"] is None
    assert old[1]["drawing_problem"].startswith("pushed before the registry kept the map")
    assert odd[1]["drawing_problem"].startswith("the registry's copy of the map does not load here")


def test_given_a_tag_search_then_it_goes_on_where_the_last_page_of_the_table_ended(served: Served) -> None:
    # WHEN a tag search is sent on with a cursor that is not one the search gave
    status, answer = get_json(served, "/console/api/contacts?q=lead&next=not-a-cursor")
    # THEN the cursor reached the contacts API, which says what is wrong with it
    assert status == 400 and "cursor" in answer["message"]
    # AND without one the search answers from the table's first page (here the whole table: no next)
    status, first = get_json(served, "/console/api/contacts?q=lead")
    assert status == 200 and "next" not in first and first["scanned_items"] == 1000
