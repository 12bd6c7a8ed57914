"""Markers neither pile up for ever nor expire while they matter (issue 8): the visit markers
(``DONE#``, ``EFFECT#``) and the form's ``SUBMISSION#`` item a real journey writes carry the
contacts table's TTL attribute (template.yaml), the markers 400 days after they were written:
longer than a Standard execution can last (one year) plus its retries, so a retry never finds
its marker gone."""

from __future__ import annotations

from datetime import timedelta

from automaps.store import contacts
from tests.faults.test_deliveries import MONDAY_9AM, backend, table_items  # noqa: F401  (the fixture)

YEAR_AND_RETRIES = timedelta(days=365, minutes=17)   # a Standard execution's maximum, a visit's retry window


def test_given_a_welcome_journey_then_its_markers_and_submission_expire_by_ttl_after_400_days(backend):  # noqa: F811
    # GIVEN Jane signed up: tag-lead changed her tags (DONE#), welcome-email sent through SES (EFFECT#)
    backend.sign_up()

    # THEN every marker and the submission carry the TTL attribute
    items = table_items()
    markers = [i for i in items if i["sk"].startswith((contacts.DONE_PREFIX, "EFFECT#"))]
    [submission] = [i for i in items if i["pk"].startswith("SUBMISSION#")]
    assert {m["sk"].split("#")[0] for m in markers} == {"DONE", "EFFECT"}
    for marker in markers:
        expires = int(marker[contacts.EXPIRATION])
        assert expires == int(MONDAY_9AM.timestamp()) + 400 * 24 * 3600, marker["sk"]
        assert expires > int((MONDAY_9AM + YEAR_AND_RETRIES).timestamp())
    assert int(submission[contacts.EXPIRATION]) > int(MONDAY_9AM.timestamp())
