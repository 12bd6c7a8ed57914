"""`automaps segment count|sample --stack-name`: against a deployed stack, the tables are the
stack's (found through CloudFormation, as `automaps push` finds them). On moto's CloudFormation."""

from __future__ import annotations

import json

from automaps_local.cli import main
from tests.conftest import table_resource


def test_given_a_deployed_stack_with_a_segment_when_count_and_sample_run_with_its_name_then_they_read_its_tables(
        monkeypatch, capsys, tmp_path):
    import boto3
    from moto import mock_aws

    from automaps import aws as aws_clients
    from automaps.store.contacts import ContactStore
    from automaps.store.content import ContentStore
    from automaps.store.segments import SegmentStore
    from tests.segments.helpers import VIP

    monkeypatch.delenv("CONTACTS_TABLE", raising=False)
    monkeypatch.delenv("CONTENT_TABLE", raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # use_stack sets the tables and region: undone after the test
    with mock_aws():
        aws_clients.reset()
        # GIVEN a deployed stack "shop" whose tables hold the segment "vip" with two members
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName="shop", TemplateBody=json.dumps({"Resources": {
                "ContactsTable": table_resource("shop-contacts"), "ContentTable": table_resource("shop-content")}}))
        ContentStore("shop-content").put("SEGMENT", "vip", VIP)
        contacts, segments = ContactStore("shop-contacts"), SegmentStore("shop-contacts")
        for email in ("ann@example.com", "bob@example.com"):
            contact, _ = contacts.upsert_by_email(email, {})
            segments.enter("vip", contact.id, cause=f"H#{email}")

        # WHEN count and sample run with --stack-name shop
        counted = main(["segment", "count", "vip", "--stack-name", "shop", "--region", "us-east-1"])
        count_out = capsys.readouterr().out
        sampled = main(["segment", "sample", "vip", "--stack-name", "shop", "--region", "us-east-1"])
        sample_out = capsys.readouterr().out.splitlines()
        aws_clients.reset()

    # THEN they answer from the stack's tables
    assert (counted, count_out) == (0, "vip: 2 members\n")
    assert sampled == 0 and sample_out[-1] == "2 of 2 members of vip"
    assert sorted(line.split()[2] for line in sample_out[:2]) == ["a***@example.com", "b***@example.com"]

