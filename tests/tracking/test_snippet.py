"""The page snippet: what it promises in its text, and what it does in a (fake) browser page:
it takes am_c from the address into a first-party cookie and beacons each view to /t/visit,
whose answer then records the visit."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from typing import Any

import pytest

from automaps.channels.tracking import visitor_token
from automaps.store.contacts import ContactStore
from automaps.intake.visits import SNIPPET
from functions.page_visits import app
from tests.conftest import load_event

NODE = shutil.which("node")

# a page with the snippet's <script> tag, a cookie jar, history and sendBeacon, run in node's vm
HARNESS = textwrap.dedent("""
    const vm = require("vm");
    const page = JSON.parse(process.argv[1]);
    const sent = [], cookies = [], replaced = [];
    let jar = page.cookie || "";
    const document = {
      referrer: page.referrer || "",
      currentScript: {src: page.src, getAttribute: (name) => (page.attributes || {})[name] ?? null},
      get cookie() { return jar; },
      set cookie(value) { cookies.push(value); jar = value.split(";")[0]; },
    };
    const url = new URL(page.href);
    const window = {
      location: {href: url.href, search: url.search, pathname: url.pathname, hash: url.hash,
                 origin: url.origin, protocol: url.protocol},
      history: {state: null, replaceState: (state, title, address) => replaced.push(address)},
      navigator: page.noBeacon ? {} : {sendBeacon: (to, body) => { sent.push({to, body, via: "beacon"}); return true; }},
      fetch: (to, options) => { sent.push({to, body: options.body, via: "fetch", options}); },
    };
    vm.runInNewContext(process.argv[2], {window, document, URLSearchParams, JSON});
    if (page.again) window.automaps.visit("replay", "webinars");
    console.log(JSON.stringify({sent, cookies, replaced}));
""")

PAGE = {"src": "https://abc123.execute-api.us-east-1.amazonaws.com/v1/t/snippet.js",
        "attributes": {"data-funnel": "webinars", "data-page": "live"},
        "referrer": "https://mail.example.net/inbox?id=42"}


def run_in_page(**page: Any) -> dict[str, Any]:
    result = subprocess.run([NODE, "-e", HARNESS, json.dumps({**PAGE, **page}), SNIPPET],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# ------------------------------------------------------------------ the text contract (no browser needed)


def test_given_the_snippet_text_then_it_keeps_its_contract():
    for promise in ('d.currentScript', 'new URLSearchParams(w.location.search)', 'KEY = "am_c"',
                    'SameSite=Lax', 'Max-Age=', '"/t/visit"', 'getAttribute("data-page")',
                    'getAttribute("data-funnel")', 'getAttribute("data-endpoint")', 'navigator.sendBeacon',
                    'keepalive: true', 'credentials: "omit"', 'history.replaceState',
                    'url: w.location.origin + w.location.pathname', 'token: current'):
        assert promise in SNIPPET, promise
    assert "location.href" not in SNIPPET  # the address's query (am_c, personal data) is never sent


# ------------------------------------------------------------------ in a page (node)

needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


@needs_node
def test_given_a_tracked_click_when_the_page_loads_then_the_token_is_kept_in_a_cookie_and_the_view_beaconed():
    page = run_in_page(href="https://example.com/webinar/live?utm=mail&am_c=TOKEN.SIG#replay")

    (cookie,) = page["cookies"]
    assert cookie.startswith("am_c=TOKEN.SIG; Max-Age=34560000; Path=/; SameSite=Lax") and cookie.endswith("; Secure")
    assert page["replaced"] == ["/webinar/live?utm=mail#replay"]  # am_c leaves the address bar
    (sent,) = page["sent"]
    assert sent["to"] == "https://abc123.execute-api.us-east-1.amazonaws.com/v1/t/visit" and sent["via"] == "beacon"
    assert json.loads(sent["body"]) == {"url": "https://example.com/webinar/live", "page": "live",
                                        "funnel": "webinars", "referrer": "https://mail.example.net/inbox",
                                        "token": "TOKEN.SIG"}


@needs_node
def test_given_the_cookie_from_an_earlier_visit_then_a_later_page_is_beaconed_without_am_c():
    page = run_in_page(href="http://example.com/pricing", cookie="other=1; am_c=KEPT.SIG", attributes={})

    assert page["cookies"] == [] and page["replaced"] == []
    (sent,) = page["sent"]
    assert json.loads(sent["body"]) == {"url": "http://example.com/pricing", "referrer": "https://mail.example.net/inbox",
                                        "token": "KEPT.SIG"}


@needs_node
def test_given_an_anonymous_visitor_then_nothing_is_sent():
    page = run_in_page(href="https://example.com/webinar/live", referrer="")

    assert page == {"sent": [], "cookies": [], "replaced": []}


@needs_node
def test_given_no_sendbeacon_and_a_custom_endpoint_then_fetch_posts_with_keepalive_and_no_credentials():
    page = run_in_page(href="https://example.com/a?am_c=T.S", noBeacon=True, again=True,
                       attributes={"data-endpoint": "https://track.example.com/t/visit"})

    first, again = page["sent"]
    assert first["via"] == "fetch" and first["to"] == "https://track.example.com/t/visit"
    assert first["options"] == {"method": "POST", "body": first["body"], "keepalive": True, "mode": "no-cors",
                                "credentials": "omit"}
    assert json.loads(again["body"])["page"] == "replay"  # automaps.visit(page, funnel) for single-page apps


@needs_node
def test_given_the_snippet_beacon_when_it_reaches_the_endpoint_then_the_visit_is_recorded(aws, clock, lambda_context):
    jane, _ = ContactStore().upsert_by_email("jane@example.com", {})
    token = visitor_token(jane.id)
    (sent,) = run_in_page(href=f"https://example.com/webinar/live?am_c={token}")["sent"]
    event = load_event("page_visit.json")
    event["body"] = sent["body"]

    assert app.lambda_handler(event, lambda_context)["statusCode"] == 204

    (visit,) = ContactStore().events(jane.id, "page.visited")
    assert visit.detail == {"url": "https://example.com/webinar/live", "page": "live", "funnel": "webinars",
                            "referrer": "https://mail.example.net/inbox"}
