"""Property: no input makes a public endpoint answer 5xx, and a rejected (4xx) request leaves
the contacts table exactly as it was (a digest of every item, before and after).

Hypothesis generates bodies (JSON of any shape with the nasty values of issue 8: NaN, Infinity,
numbers DynamoDB cannot hold, huge integers, deep nesting, control characters and lone
surrogates; urlencoded forms with too many fields; random bytes and text), content types,
charsets, base64 flags and headers, and sends each through the endpoint's real handler
(``functions/<name>/app.lambda_handler``) as an API Gateway proxy event, on moto. Deterministic
(``derandomize``) and bounded (MAX_EXAMPLES per endpoint, no deadline); the request counts are
printed at the end of the run (tests/fuzz/conftest.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from automaps.channels.tracking import unsubscribe_token, visitor_token
from automaps.store.contacts import ContactStore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import conftest as tally
from tests.fuzz.endpoints import Endpoints, deploy_forms, table_digest

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # long reprs of big bodies

MAX_EXAMPLES = 1000   # per POST endpoint, and about as many for each of the four links

FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])

# ------------------------------------------------------------------ values

NASTY_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e39", "1e308", "-1e308", "1e-300", "1e126", "9.99e125",
                 "1e-130", "1e-131", "0", "-0", "-0.0", "1" * 38, "1" * 39, "9" * 101, "1" * 4301, "1E400",
                 "12", "-1", "0.1", "1.5", "49.00", "10000", "10001", "true", "false", "null"]
NASTY_TEXT = ["", " ", "\x00", "a\x00b", "\ud800", "\udfff", "\u2028", "\x7f", "\x1b[31m", "\t\n\r", "é", "💥",
              "+14155550134", "+1 (415) 555-0134", "12", "jane@example.com", "JANE@EXAMPLE.COM", "a@b",
              "America/New_York", "../../etc/passwd", "Mars/Olympus", "x" * 600, "2026-11-01T00:00:00Z",
              "9999-12-31T23:59:59-10:00", "0001-01-01T00:00:00+10:00", "2026-02-30", "https://example.com/a?b=c",
              "javascript:alert(1)", "http://[::1]:99999/", "course.completed", "purchase.made", "on", "yes"]
FIELDS = ["email", "first_name", "last_name", "phone", "age", "timezone", "website", "webinar_at", "reason",
          "url", "page", "funnel", "referrer", "token", "id", "type", "contact_id", "occurred_at", "course",
          "step", "plan", "platform", "product", "quantity", "price", "currency", "order_id", "events"]

text = st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=40),
                 st.text(st.characters(min_codepoint=0, max_codepoint=0x3f), max_size=10),
                 st.text(st.characters(codec="utf-8"), max_size=20))


def _json_string(value: str) -> str:
    return json.dumps(value)  # escapes lone surrogates as \ud800: valid JSON text of an invalid string


json_leaf = st.one_of(st.sampled_from(NASTY_NUMBERS), text.map(_json_string),
                      st.integers().map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr))
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), text), inner, max_size=6).map(
            lambda d: "{" + ", ".join(f"{_json_string(k)}: {v}" for k, v in d.items()) + "}")),
    max_leaves=12)
deep = st.integers(min_value=30, max_value=1500).map(lambda n: "[" * n + "]" * n)


def _object(pairs: dict[str, str]) -> str:
    return "{" + ", ".join(f"{_json_string(k)}: {v}" for k, v in pairs.items()) + "}"


def plausible(fields: list[str]) -> st.SearchStrategy[str]:
    """A JSON object of the endpoint's own fields with nasty values: close enough to be parsed."""
    return st.dictionaries(st.sampled_from(fields), st.one_of(json_leaf, json_value, deep), max_size=len(fields)) \
        .map(_object)


def urlencoded(fields: list[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(st.one_of(st.sampled_from(fields), text), text)
    many = st.integers(min_value=195, max_value=260).map(lambda n: "&".join(f"f{i}=x" for i in range(n)))
    return st.one_of(st.lists(pair, max_size=8).map(
        lambda pairs: "&".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs)), many,
        st.text(st.sampled_from("%=&+;aZ09é\x00"), max_size=30))


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value.encode("utf-8", "surrogatepass"), safe="")


CONTENT_TYPES = st.one_of(st.sampled_from([
    "application/json", "application/json; charset=utf-8", "application/json; charset=ISO-8859-1",
    "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1",
    "text/plain;charset=UTF-8", "text/plain", "application/octet-stream", "multipart/form-data; boundary=x",
    "application/json; charset=klingon", "application/json; charset=", "", "APPLICATION/JSON"]),
    st.none(), text)


def bodies(fields: list[str]) -> st.SearchStrategy[Any]:
    """A body as API Gateway hands it over: text, or bytes (base64-encoded, binary types)."""
    as_text = st.one_of(plausible(fields), json_value, deep, urlencoded(fields), text)
    latin1 = as_text.map(lambda t: t.encode("latin-1", "replace"))
    return st.one_of(as_text, as_text.map(lambda t: t.encode("utf-8", "surrogatepass")), latin1,
                     st.binary(max_size=200), st.none())


@st.composite
def requests(draw: st.DrawFn, fields: list[str], base: dict[str, Any] | None = None,
             urlencoded_too: bool = False) -> dict[str, Any]:
    """Half of them a genuine request (``base``) with some fields nasty, so that the paths past
    parsing (validation, storing, enrolling) are reached too; the others anything at all."""
    headers = draw(st.dictionaries(st.sampled_from(["Accept", "Idempotency-Key", "Origin", "X-Anything"]),
                                   st.one_of(st.sampled_from(["text/html", "application/json", "*/*"]), text),
                                   max_size=3))
    if base is not None and draw(st.booleans()):
        nasty = draw(st.dictionaries(st.sampled_from(fields), st.one_of(json_leaf, json_leaf, json_value, deep),
                                     max_size=3))
        pairs = {k: json.dumps(v) for k, v in base.items()} | nasty
        if urlencoded_too and draw(st.booleans()):
            plain = {k: json.loads(v) if not v.startswith(("[", "{")) else v for k, v in pairs.items()
                     if _loads(v) is not None}
            body = "&".join(f"{_quote(k)}={_quote(str(v))}" for k, v in plain.items())
            return {"body": body, "content_type": "application/x-www-form-urlencoded", "headers": headers,
                    "base64": False}
        return {"body": _object(pairs), "content_type": draw(st.sampled_from(["application/json",
                                                                             "text/plain;charset=UTF-8"])),
                "headers": headers, "base64": False}
    return {"body": draw(bodies(fields)), "content_type": draw(CONTENT_TYPES), "headers": headers,
            "base64": draw(st.booleans())}


def _loads(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return None


# ------------------------------------------------------------------ the property


@pytest.fixture
def endpoints(aws, clock, lambda_context) -> Endpoints:
    """GIVEN the stack, its forms deployed and one known contact (so some requests reach her)."""
    deploy_forms()
    ContactStore().upsert_by_email("known@example.com", {"first_name": "Kim", "phone": "+14155550134"})
    return Endpoints(lambda_context)


def check(endpoint: str, send: Any) -> None:
    """Send one request; no 5xx, and a 4xx left the store as it was."""
    before = table_digest()
    tally.REQUESTS[endpoint] += 1
    try:
        response = send()
    except Exception:
        tally.SERVER_ERRORS[endpoint] += 1  # an uncaught exception is API Gateway's 502
        raise
    status = response["statusCode"]
    if status >= 500:
        tally.SERVER_ERRORS[endpoint] += 1
    assert status < 500, (status, response.get("body", "")[:300])
    if 400 <= status < 500:
        tally.REJECTED[endpoint] += 1
        assert table_digest() == before, f"a {status} answer changed the store: {response.get('body', '')[:300]}"


def _send_body(request: dict[str, Any]) -> dict[str, Any]:
    body, marked = request["body"], request["base64"]
    if isinstance(body, bytes):
        return {"body": body}
    return {"body": body, "base64_body": marked}  # text marked base64: valid or not


FORM_FIELDS = ["email", "first_name", "last_name", "phone", "age", "timezone", "website", "webinar_at", "reason"]


@FUZZ
@given(request=requests(FORM_FIELDS, {"email": "fuzz@example.com", "first_name": "Fuzz",
                                      "webinar_at": "2026-12-01T18:00:00Z"}, urlencoded_too=True),
       form_id=st.sampled_from(["newsletter", "webinar", "cancel-membership", "nope", "WEIRD"]))
def test_forms_post_never_answers_5xx_and_a_rejected_post_stores_nothing(endpoints, request, form_id):
    check("POST /forms/{id}", lambda: endpoints.form(content_type=request["content_type"], form_id=form_id,
                                                     headers=request["headers"], **_send_body(request)))


VISIT_FIELDS = ["url", "page", "funnel", "referrer", "token"]


@FUZZ
@given(request=requests(VISIT_FIELDS, {"url": "https://example.com/live", "page": "live", "token": "KNOWN"}))
def test_page_visit_never_answers_5xx_and_a_rejected_beacon_stores_nothing(endpoints, request):
    if isinstance(request["body"], str) and "KNOWN" in request["body"]:  # the known visitor's genuine token
        known = ContactStore().find_by_email("known@example.com")
        request = {**request, "body": request["body"].replace("KNOWN", visitor_token(known.id))}
    check("POST /t/visit", lambda: endpoints.visit(content_type=request["content_type"], headers=request["headers"],
                                                   **_send_body(request)))


INGEST_FIELDS = ["id", "type", "email", "contact_id", "occurred_at", "course", "step", "plan", "platform",
                 "product", "quantity", "price", "currency", "order_id", "events", "amount", "reason", "cart_id",
                 "data"]
INGEST_EVENT = {"id": "evt_fuzz", "email": "known@example.com", "occurred_at": "2026-11-01T08:00:00Z"}
INGEST_BASES = [  # purchase.made (with a stray course), then the payment and custom events of issue 9
    {**INGEST_EVENT, "type": "purchase.made", "product": "p1", "price": "49.00", "currency": "USD", "order_id": "o1",
     "course": "c1"},
    {**INGEST_EVENT, "type": "purchase.refunded", "order_id": "o1", "amount": "49.00", "currency": "USD"},
    {**INGEST_EVENT, "type": "order.created", "product": "p1", "order_id": "o1"},
    {**INGEST_EVENT, "type": "order.charged", "order_id": "o1", "amount": "9.00", "currency": "USD"},
    {**INGEST_EVENT, "type": "card.declined", "reason": "insufficient_funds"},
    {**INGEST_EVENT, "type": "shop.cart_abandoned", "data": {"cart_id": "c1", "total": 12.5, "first": True}},
]


@FUZZ
@given(request=st.one_of(*(requests(INGEST_FIELDS, base) for base in INGEST_BASES)),
       signed=st.sampled_from([True, True, True, False]))
def test_ingest_never_answers_5xx_and_a_rejected_request_stores_nothing(endpoints, request, signed):
    check("POST /ingest/events", lambda: endpoints.ingest(content_type=request["content_type"],
                                                          headers=request["headers"], signed=signed,
                                                          **_send_body(request)))


@settings(FUZZ, max_examples=MAX_EXAMPLES * 4)
@given(route=st.sampled_from(["GET /t/o/{token}", "GET /t/c/{token}", "GET /unsubscribe", "POST /unsubscribe"]),
       token=st.one_of(text, st.sampled_from(["genuine", "genuine-tampered"])),
       query=st.one_of(st.none(), st.dictionaries(text, text, max_size=3)))
def test_tracking_and_unsubscribe_links_never_answer_5xx(endpoints, route, token, query):
    if token.startswith("genuine"):
        known = ContactStore().find_by_email("known@example.com")
        token = unsubscribe_token(known.id, "email")
        token = token[:-2] + ("AA" if token[-2:] != "AA" else "BB") if route.endswith("tampered") else token
    kind = {"GET /t/o/{token}": "o", "GET /t/c/{token}": "c"}.get(route)
    if kind:
        check(route, lambda: endpoints.tracking(kind, token, query=query))
    else:
        check(route, lambda: endpoints.unsubscribe(route.split()[0], token))
