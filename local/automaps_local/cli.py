"""The `automaps` command: compile, serve, simulate, push.

Each subcommand lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``;
they are imported only when chosen, so `automaps compile` never pays for moto.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "compile": ("automaps_local.compile", "compile maps/*.yaml to statemachines/*.asl.json"),
    "validate": ("automaps_local.validate", "check the maps against content/ before deploy: every problem at once"),
    "serve": ("automaps_local.serve", "run the backend locally on moto (HTTP API on localhost:3000)"),
    "simulate": ("automaps_local.simulate", "run one contact through a map on the virtual clock"),
    "push": ("automaps_local.push", "upload templates, forms and the map registry to a deployed stack"),
    "test-email": ("automaps_local.test_email", "render an email and send it to an address, without enrollment"),
    "segment": ("automaps_local.segment", "count a segment's members or list a sample of them"),
    "broadcast": ("automaps_local.broadcast", "how the runs of a scheduled map went (found, queued, started, failed)"),
    "test-call": ("automaps_local.test_call", "place a make_phone_call step's call to a number, without enrollment"),
    "doctor": ("automaps_local.doctor", "check a deployed stack: SES, SMS, Bedrock, secrets, maps, alarms"),
    "secret": ("automaps_local.secret", "store a connection's secret (from stdin or a file) where the stack reads it"),
    "admin": ("automaps_local.admin", "call the admin API (IAM auth) signed with SigV4: admin GET /tasks"),
    "publish": ("automaps_local.publish", "publish one edited map on a deployed stack (new version, alias, migration)"),
    "diff": ("automaps_local.diff", "compare an edited map with HEAD or a stack: steps changed, contacts on them"),
    "explain": ("automaps_local.explain", "a contact's journeys from its history; --why-not: why a step missed them"),
    "graph": ("automaps_local.graph", "draw a map as Mermaid text or an SVG, with each step's counts from a stack"),
    "stats": (
        "automaps_local.stats",
        "numbers per map and step: entered, active, exited, waiting, done, sent, opened...",
    ),
    "contacts": (
        "automaps_local.contacts",
        "contacts via the admin API: search, show, enroll, remove, import, export, erase, data",
    ),
    "schema": ("automaps_local.schema", "write the JSON Schema of the map format (and the action settings docs)"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="automaps", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    chosen = (argv if argv is not None else sys.argv[1:])[:1]
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text)
        if chosen == [name]:
            module = importlib.import_module(module_name)
            module.add_arguments(command)
            command.set_defaults(run=module.run)
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
