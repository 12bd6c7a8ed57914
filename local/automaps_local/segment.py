"""`automaps segment count|sample <name>`: how many contacts a segment holds, and some of them.

    automaps segment count active-buyers [--stack-name automaps]
    automaps segment sample active-buyers [--limit 10] [--stack-name automaps]

Both read the membership the event route keeps (``automaps.store.segments``): ``count`` one Query
of the segment's counter shards, ``sample`` the first ``--limit`` members (contact id, when they
entered, the email masked). With ``--stack-name`` the tables are the deployed stack's; without it
they come from the environment (the local runtime, or tests on moto), with the content pushed.
"""

from __future__ import annotations

import argparse

from automaps_local.test_email import add_stack_arguments, use_stack


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["count", "sample"])
    parser.add_argument("name", help="the segment's id (content/segments/<id>.yaml, pushed)")
    parser.add_argument("--limit", type=int, default=10, help="how many members sample lists (default 10)")
    add_stack_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from automaps.store.contacts import ContactStore, mask_email
    from automaps.store.content import ContentStore
    from automaps.store.segments import CONTENT_KIND, SegmentStore

    use_stack(args.stack_name, args.region)
    if ContentStore().get(CONTENT_KIND, args.name) is None:
        print(f"error: no segment {args.name!r} is pushed (content/segments/{args.name}.yaml, then automaps push)")
        return 2
    store = SegmentStore()
    if args.action == "count":
        print(f"{args.name}: {store.count(args.name)} members")
        return 0
    if args.limit < 1:
        print("error: --limit must be at least 1")
        return 2
    contacts = ContactStore()
    shown = 0
    for member in store.members(args.name, limit=args.limit):
        contact = contacts.get(member["contact_id"])
        email = mask_email(contact.email) if contact is not None else "(erased)"
        print(f"{member['contact_id']}  {member['entered_at']}  {email}")
        shown += 1
    print(f"{shown} of {store.count(args.name)} members of {args.name}")
    return 0
