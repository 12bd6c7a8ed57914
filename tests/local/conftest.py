"""Shared by the local runtime's tests: the fixture stack and a way to put a contact in it."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import ROOT, load_event

FIXTURES = Path(__file__).parent / "fixtures"
SERVED_START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def _put_contact(contact_id: str, email: str) -> None:
    """A contact profile and its email marker, in the table layout of docs/architecture.md."""
    from automaps import aws

    table, db = os.environ["CONTACTS_TABLE"], aws.client("dynamodb")
    db.put_item(TableName=table, Item={"pk": {"S": f"CONTACT#{contact_id}"}, "sk": {"S": "PROFILE"},
                                       "id": {"S": contact_id}, "tags": {"L": [{"S": "lead"}]},
                                       "fields": {"M": {"email": {"S": email}}}})
    db.put_item(TableName=table, Item={"pk": {"S": f"EMAIL#{email}"}, "sk": {"S": "EMAIL"},
                                       "contact_id": {"S": contact_id}})


@pytest.fixture
def put_contact() -> Callable[[str, str], None]:
    return _put_contact


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """GIVEN the backend served on 127.0.0.1, welcome-leads pushed, ann and bob signed up an hour
    ago (both sent the welcome email, ann opened it; both wait two days). Yields its URL."""
    from werkzeug.serving import make_server
    from werkzeug.test import Client

    from automaps_local.clock import VirtualClock
    from automaps_local.http import LocalApi
    from automaps_local.runtime import LocalRuntime
    from automaps_local.serve import push_content

    with LocalRuntime(ROOT / "template.yaml", clock=VirtualClock(SERVED_START, auto_advance=False),
                      environment={"POWERTOOLS_METRICS_DISABLED": "true"}, schedule_events=False) as runtime:
        push_content(runtime)
        api = Client(LocalApi(runtime))
        for email in ("ann@example.com", "bob@example.com"):
            body = {**json.loads(load_event("form_post_json.json")["body"]), "email": email}
            api.post("/forms/newsletter", data=json.dumps(body), headers={"Content-Type": "application/json"})
        runtime.run_until_settled(until=timedelta(hours=1))
        [ann] = [e for e in runtime.outbox()["emails"] if e["to"] == ["ann@example.com"]]
        runtime.ses_event(ann["id"], "Open")
        runtime.run_until_settled(until=timedelta(hours=2))
        server = make_server("127.0.0.1", 0, LocalApi(runtime), threaded=True)
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            serving.join(5)
