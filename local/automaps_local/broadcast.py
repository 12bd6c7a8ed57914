"""`automaps broadcast status <map>`: how the runs of a map a moment starts went.

    automaps broadcast status weekly-news [--limit 10] [--stack-name automaps]

One line per run (an occurrence of one of the map's schedule or date triggers), newest first:
its scheduled time, the trigger's audience, the members found and queued, how many started, were
skipped (an entry rule, ``only_if``, a goal already met) or failed (given up, in the dead-letter
queue), how many are still pending, and whether the run has read its whole audience. It reads
the progress the occurrence runner and the intake consumer keep (``automaps.store.broadcasts``):
one Query of the map's runs, one of each run's 16 counter shards. With ``--stack-name`` the tables
are the deployed stack's; without it they come from the environment (the local runtime, or tests).
"""

from __future__ import annotations

import argparse

from automaps_local.test_email import add_stack_arguments, use_stack


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["status"])
    parser.add_argument("map", help="the map's id (a map with a schedule or date trigger, pushed)")
    parser.add_argument("--limit", type=int, default=10, help="how many runs, newest first (default 10)")
    add_stack_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from automaps.journeys.enrollment import map_record
    from automaps.journeys.schedules import moment_triggers
    from automaps.store.broadcasts import BroadcastStore

    use_stack(args.stack_name, args.region)
    if args.limit < 1:
        print("error: --limit must be at least 1")
        return 2
    record = map_record(args.map)
    if record is None:
        print(f"error: no map {args.map!r} is pushed (maps/{args.map}.yaml, then automaps push)")
        return 2
    if not moment_triggers(record):
        print(f"{args.map}: no schedule or date trigger, so no broadcasts")
        return 0
    runs = BroadcastStore().runs(args.map, limit=args.limit)
    if not runs:
        print(f"{args.map}: no run yet")
        return 0
    for progress in runs:
        state = "done" if progress.done else f"reading (page {progress.pages})"
        print(
            f"{progress.at}  {progress.audience}  found {progress.found}  queued {progress.queued}  "
            f"started {progress.started}  skipped {progress.skipped}  failed {progress.failed}  "
            f"pending {progress.pending}  {state}"
        )
    return 0
