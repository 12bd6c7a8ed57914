"""`automaps secret set <connection> --stack-name S`: store a connection's secret (a password, an
API key, a signing key) where the stack's functions may read it, ``<stack>/connections/<name>``.

    automaps secret set stripe --stack-name automaps < stripe-key.txt
    automaps secret set office-smtp --stack-name automaps --file password.txt
    automaps secret set shop-wp --stack-name automaps --json < wp-password.json   # {"password": "..."}

The value is read from standard input or ``--file``, never from the command line (it would stay
in the shell's history and in the process list), and never printed. A trailing newline is
dropped. ``--json`` stores a JSON object of strings as it is (for a connection that reads one
member, ``secret_key``); otherwise the text is stored as it is, which every connection type reads.
Setting it again stores a new version. The command prints the secret's ARN: put it in the
connection's ``secret_arn`` (content/connections/<name>.yaml), then ``automaps push``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


class SecretInputError(ValueError):
    pass


def secret_name(stack_name: str, connection: str) -> str:
    """Where a connection's secret lives: the only names template.yaml lets the functions read."""
    if not NAME.match(connection):
        raise SecretInputError(f"{connection!r}: a connection name is letters, digits, '.', '_' and '-'")
    return f"{stack_name}/connections/{connection}"


def parse_value(text: str, as_json: bool) -> str:
    value = text.removesuffix("\n")
    value = value.removesuffix("\r")
    if not value.strip():
        raise SecretInputError("the value is empty (give it on standard input or with --file)")
    if as_json:
        try:
            parsed = json.loads(value)
        except ValueError:
            raise SecretInputError("--json: the value is not JSON") from None
        if not isinstance(parsed, dict) or not parsed or not all(isinstance(v, str) and v for v in parsed.values()):
            raise SecretInputError("--json: the value must be an object of non-empty strings")
        return json.dumps(parsed)
    return value


def store(name: str, value: str, description: str) -> tuple[str, bool]:
    """Create the secret or put a new version of it: (its ARN, whether it was created)."""
    from automaps import aws

    sm = aws.client("secretsmanager")
    try:
        answer = sm.create_secret(Name=name, SecretString=value, Description=description)
        return str(answer["ARN"]), True
    except sm.exceptions.ResourceExistsException:
        answer = sm.put_secret_value(SecretId=name, SecretString=value)
        return str(answer["ARN"]), False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["set"])
    parser.add_argument("connection", help="the connection's name (content/connections/<name>.yaml)")
    parser.add_argument("--stack-name", default="automaps", help="the deployed stack whose functions read it")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    parser.add_argument("--file", type=Path, help="read the value from this file (default: standard input)")
    parser.add_argument("--json", action="store_true", help="the value is a JSON object of strings")
    parser.add_argument("--root", default=".", type=Path, help="the repository (for content/connections/)")


def run(args: argparse.Namespace) -> int:
    if args.region:
        os.environ["AWS_REGION"] = args.region
    try:
        name = secret_name(args.stack_name, args.connection)
        text = args.file.read_text() if args.file else sys.stdin.read()
        value = parse_value(text, args.json)
    except (SecretInputError, OSError) as error:
        print(f"error: {error}")
        return 2
    arn, created = store(name, value, f"automaps connection {args.connection} (automaps secret set)")
    print(f"{'created' if created else 'updated'} {name}: {arn}")
    connection = args.root / "content" / "connections" / f"{args.connection}.yaml"
    if connection.is_file() and f"secret:{name}" not in connection.read_text():
        print(f"{connection}: set secret_arn: {arn} (then automaps push --stack-name {args.stack_name})")
    elif not connection.is_file():
        print(f"name it in content/connections/{args.connection}.yaml as secret_arn: {arn}")
    return 0
