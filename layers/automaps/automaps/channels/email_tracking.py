"""Our own open pixel and click redirect, for emails sent through an SMTP connection.

SES tracks opens and clicks itself (the configuration set's events); mail sent through an SMTP
server of the user's own gets the same from us: :func:`instrument` rewrites every web link
(``<a href>``, ``<area href>``) of the HTML body to ``{PUBLIC_API_URL}/t/c/<token>`` and adds a
1x1 pixel ``{PUBLIC_API_URL}/t/o/<token>`` before ``</body>``. The tokens are signed
(automaps.channels.tracking), so the redirect goes only where we said and nobody can record an
open for someone else. ``functions/email_tracking`` answers them (automaps.intake.engagement).

The body is read with the standard library's HTML parser and only the start tags of links are
rewritten; every other byte of the body is left as it was. Links that are not http(s) (mailto:,
tel:, #anchors), the unsubscribe link and links already pointing at our tracking are left alone.
"""

from __future__ import annotations

import html as html_lib
from html.parser import HTMLParser

from automaps import config
from automaps.channels import tracking
from automaps.channels.email import Trace

_LINK_TAGS = frozenset({"a", "area"})


class _LinkFinder(HTMLParser):
    """Collects, for every start tag of a link, where it sits in the text and its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[tuple[int, int], str, list[tuple[str, str | None]], bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._found(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._found(tag, attrs, closed=True)

    def _found(self, tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> None:
        if tag in _LINK_TAGS and any(name == "href" for name, _ in attrs):
            self.links.append((self.getpos(), self.get_starttag_text() or "", attrs, closed))


def instrument(html: str, trace: Trace, *, message_id: str, connection: str) -> str:
    """``html`` with its web links going through our click redirect and an open pixel added."""
    email = tracking.TrackedEmail(
        contact_id=trace.contact_id,
        map_id=trace.map_id,
        step_id=trace.step_id,
        template=trace.template,
        message_id=message_id,
        connection=connection,
    )
    finder = _LinkFinder()
    finder.feed(html)
    finder.close()
    line_starts = _line_starts(html)
    pieces, done = [], 0
    for (line, column), raw, attrs, closed in finder.links:
        start = line_starts[line - 1] + column
        if html[start : start + len(raw)] != raw:  # the parser's position is always exact; never guess
            continue
        rewritten = _rewrite(attrs, closed, email, raw)
        if rewritten is not None:
            pieces += [html[done:start], rewritten]
            done = start + len(raw)
    pieces.append(html[done:])
    return _with_pixel("".join(pieces), tracking.open_url(email))


def tracked(url: str) -> bool:
    """Whether a click on ``url`` goes through our redirect (a web link that is not ours)."""
    lowered = url.strip().lower()
    if not lowered.startswith(("http://", "https://")):
        return False
    ours = config.public_api_url().lower()
    return not lowered.startswith((f"{ours}{tracking.TRACKING_PREFIX}", f"{ours}/unsubscribe"))


def _rewrite(attrs: list[tuple[str, str | None]], closed: bool, email: tracking.TrackedEmail, raw: str) -> str | None:
    href = next((value for name, value in attrs if name == "href"), None)
    if href is None or not tracked(href):
        return None
    tag = raw[1:].split(None, 1)[0].rstrip("/>").lower()
    parts = [f"<{tag}"]
    for name, value in attrs:
        if name == "href":
            value = tracking.click_url(email, href.strip())
        parts.append(f" {name}" if value is None else f' {name}="{html_lib.escape(value, quote=True)}"')
    return "".join(parts) + (" />" if closed else ">")


def _with_pixel(html: str, url: str) -> str:
    pixel = (
        f'<img src="{html_lib.escape(url, quote=True)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0" />'
    )
    closing = html.lower().rfind("</body>")
    return html[:closing] + pixel + html[closing:] if closing >= 0 else html + pixel


def _line_starts(text: str) -> list[int]:
    """Offsets where each line starts, as HTMLParser counts lines (``\\n`` ends a line)."""
    starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    return starts
