"""Page visits: the snippet users paste into their pages, and the beacon it sends.

    <script src="https://<public api>/t/snippet.js" data-funnel="webinars" data-page="live" async></script>

``GET /t/snippet.js`` serves :data:`SNIPPET`. On each page view it posts
``{"url", "page", "funnel", "referrer", "token"}`` to ``/t/visit`` (next to where it was loaded
from, or ``data-endpoint``) with ``navigator.sendBeacon``: a ``text/plain`` body, which needs no
CORS preflight; a JSON post from a script works too.

The visitor is identified by a signed visitor token (automaps.channels.tracking): a tracked email
click adds ``?am_c=<token>`` to its destination, and so does a form's thank-you redirect when the
form sets ``identify_visitor``; the snippet keeps it in a first-party cookie ``am_c`` (400 days,
the longest browsers keep one) and drops it from the address bar. A visitor without a token is
anonymous and nothing is sent.

``POST /t/visit`` records ``page.visited`` with ``{url, page, funnel}`` (and ``referrer`` when
given), the URLs cut to scheme, host and path: tokens and personal data travel in queries. The
answer is 204 whether or not the token is genuine, so the endpoint cannot be used to test tokens;
a forged, tampered or expired token, or one naming no contact, records nothing. What is not a
visit at all (no url, not http(s), a control character, not UTF-8, not strict JSON) is a 400
naming the field; a body over MAX_BODY bytes is a 413.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from automaps.errors import field_errors
from automaps.intake import inputs
from automaps.replies import Reply, json_reply

MAX_URL = 2048
MAX_BODY = 8192
NAME = r"^[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,99}$"
NAME_RULE = "must be 1 to 100 letters, digits, spaces or _ . : / - (starting with a letter or digit)"
"""Page ids and funnel names: what conditions compare (``visited_page``, ``inside_funnel``)."""

CACHE_SNIPPET = "public, max-age=3600"


class InvalidVisit(ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['error']}" for e in errors))
        self.errors = errors


_DEFAULT_PORTS = {"http": 80, "https": 443}


def page_address(url: str) -> str:
    """``https://Example.com:443/a/b?x=1#y`` -> ``https://example.com/a/b``: scheme, host (and a
    port that is not the scheme's own) and path; no query, fragment or user info. The one form
    pages and links are stored and compared in (visits, email clicks, conditions); never raises."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def page_url(url: str) -> str:
    """A page's address as posted by the snippet: an http(s) URL with a host and a valid port,
    as :func:`page_address`; raises ValueError saying what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        raise ValueError("must be an http or https URL")
    if not parts.hostname:
        raise ValueError("must name a host, e.g. https://example.com/page")
    try:
        parts.port  # noqa: B018 (parsing it is the check)
    except ValueError:
        raise ValueError("has a port that is not a number from 0 to 65535") from None
    return page_address(url)


class Visit(BaseModel):
    """What the snippet posts. Fields it does not know are ignored (older or newer snippets)."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    url: str = Field(max_length=MAX_URL, description="the page's address")
    page: str | None = Field(default=None, pattern=NAME, description="the page's id, e.g. live")
    funnel: str | None = Field(default=None, pattern=NAME, description="the funnel the page belongs to")
    referrer: str | None = Field(default=None, max_length=MAX_URL)
    token: str | None = Field(default=None, description="the visitor token (cookie am_c)")

    @field_validator("url", "token")
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        inputs.clean_text(value)
        return page_url(value) if info.field_name == "url" else value

    @field_validator("referrer")
    @classmethod
    def _referrer(cls, value: str | None) -> str | None:
        """Browsers send what they like here (``android-app://...``): what is not a page is dropped."""
        try:
            return page_url(inputs.clean_text(value)) if value else None
        except ValueError:
            return None

    @field_validator("page", "funnel", "referrer", "token", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return None if value == "" else value

    def detail(self) -> dict[str, Any]:
        detail = {"url": self.url, "page": self.page, "funnel": self.funnel}
        if self.referrer:
            detail["referrer"] = self.referrer
        return detail


def parse(body: str | bytes | None, content_type: str | None = None) -> Visit:
    """The visit in a JSON body (sent as application/json or, by sendBeacon, text/plain); raises
    InvalidVisit, or inputs.BadInput for a body that cannot be read (413 over MAX_BODY bytes)."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else (body or b"")
    if len(raw) > MAX_BODY:
        raise inputs.BadInput("body", f"is larger than {MAX_BODY} bytes", 413)
    data = inputs.load_json(inputs.body_text(raw, content_type) or "null")
    if not isinstance(data, dict):
        raise InvalidVisit([{"field": "body", "error": 'must be a JSON object: {"url": "https://...", ...}'}])
    try:
        return Visit.model_validate(data)
    except ValidationError as exc:
        raise InvalidVisit(field_errors(exc, root="body", messages={"string_pattern_mismatch": NAME_RULE})) from None


def visitor(token: str | None) -> str | None:
    """The contact a visitor token names, or None for a missing, forged, tampered or expired one."""
    from automaps.channels.tracking import BadToken, read_visitor

    if not token or len(token) > 1024:
        return None
    try:
        return read_visitor(token)
    except BadToken:
        return None


def record_visit(body: str | None, *, is_base64: bool = False, content_type: str | None = None) -> tuple[Reply, bool]:
    """Answer a beacon (API Gateway's body, base64-encoded for binary content types); returns the
    reply and whether a visit was recorded (for the log only)."""
    from automaps.store.contacts import ContactStore

    try:
        visit = parse(inputs.body_bytes(body, is_base64, limit=MAX_BODY), content_type)
    except (InvalidVisit, inputs.BadInput) as exc:
        status = exc.status if isinstance(exc, inputs.BadInput) else 400
        return json_reply(status, {"message": "not a page visit", "errors": exc.errors}), False
    contact_id = visitor(visit.token)
    store = ContactStore()
    if contact_id is None or store.get(contact_id) is None:
        return Reply(204, "", "text/plain"), False
    store.record(contact_id, "page.visited", visit.detail())
    return Reply(204, "", "text/plain"), True


def snippet() -> Reply:
    return Reply(200, SNIPPET, "text/javascript; charset=utf-8", {"Cache-Control": CACHE_SNIPPET})


SNIPPET = """\
/* automaps page tracking. Paste on each page:
   <script src="https://<public api>/t/snippet.js" data-funnel="webinars" data-page="live" async></script>
   Identified visitors only: the am_c token a tracked link or form redirect adds to the address is
   kept in a first-party cookie; anonymous visitors send nothing. automaps.visit(page, funnel)
   records a view by hand (single-page apps). */
(function (w, d) {
  "use strict";
  var s = d.currentScript;
  if (!s || !s.src) return;
  var KEY = "am_c", MAX_AGE = 34560000; /* 400 days */
  var endpoint = s.getAttribute("data-endpoint") || s.src.replace(/\\/t\\/snippet\\.js([?#].*)?$/, "/t/visit");

  function fromAddress() {
    var params = new URLSearchParams(w.location.search), token = params.get(KEY);
    if (!token) return null;
    params.delete(KEY);
    var query = params.toString();
    try {
      w.history.replaceState(w.history.state, "", w.location.pathname + (query ? "?" + query : "") + w.location.hash);
    } catch (e) { /* an old browser keeps the address as it is */ }
    return token;
  }

  function fromCookie() {
    var found = d.cookie.match(/(?:^|;\\s*)am_c=([^;]+)/);
    return found ? decodeURIComponent(found[1]) : null;
  }

  var token = fromAddress();
  if (token) {
    d.cookie = KEY + "=" + encodeURIComponent(token) + "; Max-Age=" + MAX_AGE + "; Path=/; SameSite=Lax" +
      (w.location.protocol === "https:" ? "; Secure" : "");
  }

  function visit(page, funnel) {
    var current = token || fromCookie();
    if (!current) return false;
    var body = JSON.stringify({
      url: w.location.origin + w.location.pathname,
      page: page || s.getAttribute("data-page") || undefined,
      funnel: funnel || s.getAttribute("data-funnel") || undefined,
      referrer: d.referrer ? d.referrer.split(/[?#]/)[0] : undefined,
      token: current
    });
    if (w.navigator.sendBeacon && w.navigator.sendBeacon(endpoint, body)) return true;
    if (w.fetch) w.fetch(endpoint, {method: "POST", body: body, keepalive: true, mode: "no-cors", credentials: "omit"});
    return true;
  }

  w.automaps = w.automaps || {};
  w.automaps.visit = visit;
  visit();
})(window, document);
"""
