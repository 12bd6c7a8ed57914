"""Email sent through an SMTP connection carries our own open pixel and click redirect; hitting
them records email.opened / email.clicked like SES's events. Tokens are signed: forged, tampered
or cross-purpose tokens record nothing, and the redirect never goes anywhere we did not sign."""

from __future__ import annotations

import base64
import copy
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from automaps.store import connections
from automaps.channels import email, email_tracking, tracking
from automaps.store.content import ContentStore
from functions.email_tracking import app as tracking_app
from functions.send_email import app as send_email
from tests.actions.sending import task_event
from tests.conftest import LOCAL_URL, load_event
from tests.engagement.conftest import engagement
from tests.smtp_server import SmtpServer

SHOP = "https://shop.example/welcome?coupon=JANE10&utm_source=email#start"
BODY = ('<html><body><h1>Hi {{ contact.first_name }}</h1>\n'
        f'<p><a class="cta" href="{SHOP.replace("&", "&amp;")}">Your coupon</a>\n'
        '<a href="mailto:help@shop.example">Write to us</a> <a href="#top">Top</a> <a name="x">anchor</a></p>\n'
        '</body></html>\n')
OPENED_AT = datetime(2026, 11, 2, 9, 15, 42, 652000, tzinfo=UTC)   # requestTimeEpoch of the fixture events


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "a" and "href" in values:
            self.hrefs.append(values["href"])
        if tag == "img":
            self.images.append(values["src"])


def links(html: str) -> Links:
    found = Links()
    found.feed(html)
    return found


@pytest.fixture
def sent(jane, lambda_context, tmp_path):
    """GIVEN Jane was emailed through the office SMTP connection by the welcome-email step;
    returns the mail the server received."""
    with SmtpServer(tmp_path) as server:
        ContentStore().put("CONNECTION", "office", connections.validate(server.connection()).model_dump(mode="json"))
        result = send_email.lambda_handler(task_event("send_email.json", jane, settings={
            "connection": "office", "subject": "Your coupon", "html": BODY}), lambda_context)
    assert result["outcome"] == "done"
    [mail] = server.received
    return mail


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def hit(kind: str, token: str, lambda_context, request_id: str | None = None) -> dict:
    """WHEN a mail client (or a person) requests the pixel ("o") or the redirect ("c")."""
    event = copy.deepcopy(load_event("email_tracking_open.json" if kind == "o" else "email_tracking_click.json"))
    event["path"] = f"/t/{kind}/{token}"
    event["pathParameters"] = {"token": token}
    if request_id:
        event["requestContext"]["requestId"] = request_id
    response = tracking_app.lambda_handler(event, lambda_context)
    response["headers"] = {name: values[-1] for name, values in (response.get("multiValueHeaders") or {}).items()}
    return response


# ------------------------------------------------------------------ the email

def test_given_an_smtp_email_then_its_web_links_go_through_our_redirect_and_it_carries_an_open_pixel(jane, sent):
    found = links(sent.html)

    coupon, mailto, top, unsubscribe = found.hrefs
    assert coupon.startswith(f"{LOCAL_URL}/t/c/") and (mailto, top) == ("mailto:help@shop.example", "#top")
    assert unsubscribe.startswith(f"{LOCAL_URL}/unsubscribe?t=")   # left as it was: List-Unsubscribe names it
    [pixel] = found.images
    assert pixel.startswith(f"{LOCAL_URL}/t/o/") and sent.html.index(pixel) < sent.html.index("</body>")
    message_id = sent.header("Message-ID").strip("<>")
    email_, destination = tracking.read_click(token_of(coupon))
    assert destination == SHOP
    assert email_ == tracking.read_open(token_of(pixel)) == tracking.TrackedEmail(
        contact_id=jane.id, map_id="welcome-leads", step_id="welcome-email", template="inline",
        message_id=message_id, connection="office")
    assert "/t/" not in sent.text   # the plain-text part is not rewritten


def test_given_html_when_instrumented_then_only_link_start_tags_change_and_every_other_byte_stays(aws, clock):
    html = ('<!doctype html>\n<HTML><body>\r\n<p title="a &amp; b">Caf\u00e9 &eacute;</p>'
            '<A HREF="https://Shop.example/a?x=1&amp;y=2" target=_blank>one</A>\n'
            '<a>no href</a><map><area shape="rect" href="http://shop.example/b"/></map>'
            '<a href="https://elsewhere.example/">two</a></body></HTML>')
    trace = email.Trace(contact_id="c_1", map_id="m", step_id="s", template="t")

    out = email_tracking.instrument(html, trace, message_id="id@shop.example", connection="office")

    tokens = re.findall(r"/t/c/([A-Za-z0-9_.-]+)", out)
    assert [tracking.read_click(t)[1] for t in tokens] == [
        "https://Shop.example/a?x=1&y=2", "http://shop.example/b", "https://elsewhere.example/"]
    link_tag = re.compile(r"<(a|area)\b[^>]*>", re.IGNORECASE)
    without_pixel = re.sub(r'<img src="[^"]*/t/o/[^"]*"[^>]*/>', "", out)
    assert link_tag.sub("<LINK>", without_pixel) == link_tag.sub("<LINK>", html)   # nothing else moved
    assert out.startswith('<!doctype html>\n<HTML><body>\r\n<p title="a &amp; b">Caf\u00e9 &eacute;</p>')
    assert '<a>no href</a>' in out and 'target="_blank"' in out and out.count("<img ") == 1
    assert out.endswith('" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />'
                        '</body></HTML>')


def test_given_html_without_a_body_tag_then_the_pixel_is_appended(aws, clock):
    out = email_tracking.instrument("<p>Hi</p>", email.Trace("c_1", None, None, "t"), message_id="m", connection="o")

    assert out.startswith("<p>Hi</p><img src=") and tracking.read_open(token_of(links(out).images[0])).map_id is None


# ------------------------------------------------------------------ the pixel

def test_given_the_pixel_when_a_mail_client_loads_it_then_a_gif_comes_back_and_the_open_is_recorded(
        jane, store, sent, lambda_context):
    pixel = links(sent.html).images[0]

    response = hit("o", token_of(pixel), lambda_context)

    assert response["statusCode"] == 200 and response["isBase64Encoded"] is True
    assert response["headers"]["Content-Type"] == "image/gif" and "no-store" in response["headers"]["Cache-Control"]
    assert base64.b64decode(response["body"]).startswith(b"GIF89a")
    [opened] = engagement(store, jane)
    assert (opened.kind, opened.map_id, opened.step_id, opened.at) == (
        "email.opened", "welcome-leads", "welcome-email", OPENED_AT)
    assert opened.detail == {"message_id": sent.header("Message-ID").strip("<>"), "template": "inline",
                             "connection": "office"}


def test_given_the_pixel_loaded_twice_then_each_open_is_recorded_but_a_retried_invocation_only_once(
        jane, store, sent, lambda_context):
    token = token_of(links(sent.html).images[0])

    hit("o", token, lambda_context, request_id="req-1")
    hit("o", token, lambda_context, request_id="req-1")   # the same request, invoked again
    hit("o", token, lambda_context, request_id="req-2")   # opened again

    assert len(store.events(jane.id, "email.opened")) == 2


# ------------------------------------------------------------------ the redirect

def test_given_a_tracked_link_when_clicked_then_it_redirects_to_the_destination_with_the_visitor_and_records(
        jane, store, sent, lambda_context, monkeypatch):
    monkeypatch.setenv("TRACKED_DOMAINS", "shop.example")   # the user's own site, where page tracking runs
    coupon = links(sent.html).hrefs[0]

    response = hit("c", token_of(coupon), lambda_context)

    assert response["statusCode"] == 302
    location = response["headers"]["Location"]
    assert location.startswith("https://shop.example/welcome?coupon=JANE10&utm_source=email&am_c=")
    assert location.endswith("#start")
    visitor = parse_qs(urlsplit(location).query)["am_c"][0]
    assert tracking.read_visitor(visitor) == jane.id
    assert response["headers"]["Referrer-Policy"] == "no-referrer"
    [clicked] = engagement(store, jane)
    assert (clicked.kind, clicked.step_id) == ("email.clicked", "welcome-email")
    assert clicked.detail == {"message_id": sent.header("Message-ID").strip("<>"), "template": "inline",
                              "connection": "office", "url": "https://shop.example/welcome"}


# ------------------------------------------------------------------ tokens that are not ours

def _tampered(token: str) -> str:
    """The payload rewritten to another contact and destination, the signature kept."""
    payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["d"].update(c="c_someone_else", u="https://evil.example/phish")
    forged = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{forged}.{signature}"


def _bad_tokens(jane, sent) -> dict[str, str]:
    coupon, pixel = token_of(links(sent.html).hrefs[0]), token_of(links(sent.html).images[0])
    return {
        "forged": "eyJwIjoiZW1haWwtY2xpY2sifQ.c2lnbmF0dXJl",
        "garbage": "not-a-token",
        "tampered click": _tampered(coupon),
        "tampered open": _tampered(pixel),
        "one character flipped": coupon[:-1] + ("A" if coupon[-1] != "A" else "B"),
        "unsubscribe token": tracking.unsubscribe_token(jane.id),
        "visitor token": tracking.visitor_token(jane.id),
        "open token on the redirect": pixel,
        "click token on the pixel": coupon,
    }


@pytest.mark.parametrize("case", ["forged", "garbage", "tampered click", "one character flipped",
                                  "unsubscribe token", "visitor token", "open token on the redirect"])
def test_given_a_token_that_is_not_a_click_token_of_ours_then_the_redirect_goes_nowhere_and_records_nothing(
        jane, store, sent, lambda_context, case):
    response = hit("c", _bad_tokens(jane, sent)[case], lambda_context)

    assert response["statusCode"] == 404 and "Location" not in response["headers"]
    assert "evil.example" not in response["body"] and "not valid" in response["body"]
    assert engagement(store, jane) == [] and store.history("c_someone_else") == []


@pytest.mark.parametrize("case", ["forged", "garbage", "tampered open", "unsubscribe token", "visitor token",
                                  "click token on the pixel"])
def test_given_a_token_that_is_not_an_open_token_of_ours_then_the_pixel_still_answers_but_records_nothing(
        jane, store, sent, lambda_context, case):
    response = hit("o", _bad_tokens(jane, sent)[case], lambda_context)

    assert response["statusCode"] == 200 and response["headers"]["Content-Type"] == "image/gif"
    assert engagement(store, jane) == [] and store.history("c_someone_else") == []


def test_given_a_signed_click_token_for_something_that_is_not_a_web_address_then_it_is_refused(
        jane, store, aws, lambda_context):
    trace = tracking.TrackedEmail(jane.id, "welcome-leads", "welcome-email", "inline", "m@x", "office")
    token = token_of(tracking.click_url(trace, "javascript:alert(document.cookie)"))

    response = hit("c", token, lambda_context)

    assert response["statusCode"] == 404 and engagement(store, jane) == []


def test_given_a_genuine_click_for_a_contact_since_deleted_then_it_still_redirects_but_records_nothing(
        aws, clock, lambda_context):
    trace = tracking.TrackedEmail("c_gone", "welcome-leads", "welcome-email", "inline", "m@x", "office")

    response = hit("c", token_of(tracking.click_url(trace, "https://shop.example/")), lambda_context)

    assert response["statusCode"] == 302 and response["headers"]["Location"] == "https://shop.example/"
