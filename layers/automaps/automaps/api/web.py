"""The public API's answers: form posts and unsubscribe pages, independent of the HTTP plumbing.

``functions/public_api/app.py`` routes requests here and turns a :class:`Reply` into an API
Gateway response. Browser posts (HTML forms) get HTML and redirects; scripts get JSON.
"""

from __future__ import annotations

import html
import json

from automaps.intake import forms, inputs
from automaps.journeys.enrollment import IntakeUnavailable
from automaps.replies import Reply, json_reply


def _page(status: int, title: str, message: str) -> Reply:
    body = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body><h1>{html.escape(title)}</h1>{message}</body></html>"
    )
    return Reply(status, body, "text/html; charset=utf-8")


def wants_html(content_type: str | None, accept: str | None) -> bool:
    return "x-www-form-urlencoded" in (content_type or "") and "text/html" in (accept or "")


def submit_form(
    form_id: str,
    body: str | None,
    content_type: str | None,
    accept: str | None,
    idempotency_key: str | None = None,
    *,
    is_base64: bool = False,
) -> Reply:
    """Answer a form post (API Gateway's body, base64-encoded for binary content types): 202 with
    what happened, a 303 to the thank-you page for a browser, or 400/413/404 naming the problem."""
    browser = wants_html(content_type, accept)
    try:
        key = _key(idempotency_key)
        raw = inputs.body_bytes(body, is_base64, limit=forms.MAX_BODY_BYTES)
        data = forms.parse_body(raw, content_type)
        result = forms.submit(form_id, data, idempotency_key=key)
    except forms.UnknownForm as exc:
        return (
            _page(404, "Form not found", f"<p>{html.escape(str(exc))}</p>")
            if browser
            else json_reply(404, {"message": str(exc)})
        )
    except IntakeUnavailable as exc:  # stored so far stays; the same post again queues the same enrollments
        return Reply(
            503,
            json.dumps({"message": "try again shortly", "retry_after": exc.retry_after}),
            "application/json",
            {"Retry-After": str(exc.retry_after)},
        )
    except (forms.InvalidSubmission, inputs.BadInput) as exc:
        status = exc.status if isinstance(exc, inputs.BadInput) else 400
        if browser:
            items = "".join(f"<li>{html.escape(e['field'])}: {html.escape(e['error'])}</li>" for e in exc.errors)
            return _page(status, "Please check the form", f"<ul>{items}</ul><p>Go back and correct it.</p>")
        return json_reply(status, {"message": "invalid submission", "errors": exc.errors})
    if browser and result.thank_you_url:
        return Reply(303, "", "text/plain", {"Location": result.thank_you_url})
    if browser:
        return _page(200, "Thank you", "<p>We received your submission.</p>")
    # a filled honeypot gets the same answer as a real submission: bots learn nothing
    return json_reply(202, result.answer())


def _key(header: str | None) -> str | None:
    """The Idempotency-Key header (1 to 255 printable ASCII characters), or None; BadInput else."""
    key = (header or "").strip()
    if key and (len(key) > 255 or not all(" " <= ch <= "~" for ch in key)):
        raise inputs.BadInput("idempotency-key", "must be 1 to 255 printable ASCII characters")
    return key or None


# ---------------------------------------------------------------- unsubscribe
# GET shows a confirmation button (link scanners follow GETs; they must not unsubscribe anyone);
# POST unsubscribes: the button, and mail clients' RFC 8058 one-click POST.


def unsubscribe_page(token: str) -> Reply:
    from automaps.channels.tracking import BadToken, read_unsubscribe

    try:
        read_unsubscribe(token)
    except BadToken:
        return _page(400, "Link not valid", "<p>This unsubscribe link is not valid.</p>")
    action = f"?t={html.escape(token, quote=True)}"
    return _page(
        200,
        "Unsubscribe",
        f'<form method="post" action="{action}"><p>Stop receiving these messages?</p>'
        '<button type="submit">Unsubscribe</button></form>',
    )


def unsubscribe(token: str) -> Reply:
    from automaps.channels.tracking import BadToken, read_unsubscribe
    from automaps.store.contacts import ContactNotFound, ContactStore

    try:
        request = read_unsubscribe(token)
        store = ContactStore()
        if store.set_unsubscribed(request.contact_id, request.channel):
            store.record(  # on the sending step, when the link names it (its unsubscribed count)
                request.contact_id,
                "unsubscribed",
                {"channel": request.channel},
                map_id=request.map_id,
                step_id=request.step_id,
            )
    except (BadToken, ContactNotFound):
        return _page(400, "Link not valid", "<p>This unsubscribe link is not valid.</p>")
    return _page(200, "Unsubscribed", f"<p>You will not receive {html.escape(request.channel)} from us any more.</p>")
