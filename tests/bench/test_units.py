"""The DynamoDB units benchmark (bench/dynamodb.py) on one contact: its meter bills the segment
membership transaction as on-demand does (4 items, twice each, and the history entry's LSI write),
the upkeep's own share is what the router adds when a segment is pushed, and the writes are
grouped by partition key."""

from __future__ import annotations

from bench import dynamodb


def test_given_one_contact_entering_and_leaving_a_segment_then_each_transition_costs_one_transaction_of_four_items():
    # WHEN one contact's tag change makes it enter the segment vip and a second one makes it leave
    result = dynamodb.segment_upkeep(contacts=1)

    # THEN routing each change wrote one transaction of 4 items (8 WRU) and the history entry's
    # index write, after reading the profile and the contact's segments
    for phase in ("router (enter)", "router (leave)"):
        counts = result["with_segment"][phase]
        assert counts["ddb.TransactWriteItems"] == 1 and counts["ddb_write_units"] == 8
        assert counts["ddb_index_write_units"] == 1 and counts["ddb_read_units"] == 2
        # AND without the segment the router wrote and read nothing: all of it is the upkeep's own
        assert result["upkeep"][phase]["ddb_write_units"] == 8
    assert result["count_after"] == 0
    # AND half the transition's writes went to the segment's own partition (member item + counter shard)
    assert result["partitions_enter"]["by_pattern"]["SEGMENT#vip"]["share"] == 0.5


def test_partition_key_patterns_hide_ids_times_and_shards():
    assert dynamodb.pattern("CONTACT#c_0123") == "CONTACT#<id>"
    assert dynamodb.pattern("SEGMENT#vip") == "SEGMENT#vip"
    assert dynamodb.pattern("BROADCAST#news#2026-11-23T14:00:00Z#0-ab12#07") == "BROADCAST#news#<at>#0-ab12#<shard>"
