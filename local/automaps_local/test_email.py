"""`automaps test-email`: render an email exactly as a send_email step would, and send it to any
address through the chosen connection, without a contact or an enrollment.

    automaps test-email --template welcome --to me@example.com [--contact jane.json]
        [--connection office-smtp] [--subject "..."] [--stack-name automaps]

The merge fields come from a sample contact, or from ``--contact`` (a JSON object of contact
fields, or ``{"fields": {...}, "tags": [...]}``). The subject is prefixed with ``[Test]``.
With ``--stack-name`` the content table, signing secret, sender and public URL are those of the
deployed stack; without it they come from the environment (the local runtime, or tests on moto).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

SAMPLE_FIELDS: dict[str, Any] = {"first_name": "Jane", "last_name": "Doe", "company": "Example Inc."}
TEST_CONTACT_ID = "c_test_email"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", help="a stored template (content/templates/<name>.yaml, pushed)")
    parser.add_argument("--subject", help="the subject (overrides the template's; required with --text/--html)")
    parser.add_argument("--text", help="an inline plain-text body instead of --template")
    parser.add_argument("--html", help="an inline HTML body instead of --template")
    parser.add_argument("--to", required=True, help="the address the test email goes to")
    parser.add_argument("--contact", type=Path, help="JSON file with the contact's fields for the merge fields")
    parser.add_argument("--connection", default="default", help="'default' (Amazon SES) or an SMTP connection")
    parser.add_argument("--transactional", action="store_true", help="no unsubscribe link and headers")
    add_stack_arguments(parser)


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-name", help="a deployed stack; default: the environment (local runtime)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))


def use_stack(stack_name: str | None, region: str | None) -> None:
    """Point the automaps package at a deployed stack: its tables, secret, sender and public URL."""
    if not stack_name:
        return
    import boto3

    cfn = boto3.client("cloudformation", region_name=region)
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
        for r in page["StackResourceSummaries"]
    }
    [stack] = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    for variable, value in {
        "CONTENT_TABLE": physical.get("ContentTable"),
        "CONTACTS_TABLE": physical.get("ContactsTable"),
        "SIGNING_SECRET_ARN": physical.get("SigningSecret"),
        "EMAIL_FROM": parameters.get("EmailFrom"),
        "PUBLIC_API_URL": outputs.get("PublicApiUrl"),
    }.items():
        if value:
            os.environ[variable] = value
    if region:
        os.environ["AWS_REGION"] = region


def sample_contact(path: Path | None, email: str | None = None, phone: str | None = None) -> Any:
    """The contact merge fields see: a sample, or the fields of ``path``."""
    from automaps import clock
    from automaps.store.contacts import Contact

    fields, tags = dict(SAMPLE_FIELDS), []
    if path is not None:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object of contact fields")
        given = data["fields"] if isinstance(data.get("fields"), dict) else data
        fields = {key: value for key, value in given.items() if key not in ("tags", "id")}
        tags = list(data.get("tags") or [])
    fields.setdefault("email", email)
    if phone:
        fields.setdefault("phone", phone)
    now = clock.now()
    return Contact(
        id=TEST_CONTACT_ID,
        fields={k: v for k, v in fields.items() if v is not None},
        tags=set(tags),
        created_at=now,
        updated_at=now,
    )


def send_test_email(args: argparse.Namespace) -> tuple[str, str]:
    """Render and send; returns (message id, masked recipient)."""
    from automaps.actions.send_email import Settings, compose
    from automaps.channels import email
    from automaps.store.contacts import mask_email

    settings = Settings(
        template=args.template,
        subject=args.subject,
        text=args.text,
        html=args.html,
        connection=args.connection,
        marketing=not args.transactional,
    )
    contact = sample_contact(args.contact, email=args.to)
    message = compose(settings, contact, dict, to=args.to, honour_unsubscribe=False)
    message_id = email.deliver(
        settings.connection,
        to=message.to,
        subject=f"[Test] {message.subject}",
        html=message.html,
        text=message.text,
        headers=message.headers,
    )
    return message_id, mask_email(message.to)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from automaps.journeys.steps import PermanentError, Skip, TransientError
    from automaps.rendering import MissingField, TemplateProblem

    use_stack(args.stack_name, args.region)
    try:
        message_id, to = send_test_email(args)
    except ValidationError as error:
        print("error: " + "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors()))
        return 2
    except MissingField as missing:
        print(f"error: {missing}; give them in --contact")
        return 2
    except (TemplateProblem, ValueError, OSError) as error:
        print(f"error: {error}")
        return 2
    except (Skip, PermanentError) as error:
        print(f"error: not sent: {error}")
        return 1
    except TransientError as error:
        print(f"error: not sent, try again: {error}")
        return 1
    print(f"test email {message_id} sent to {to} through connection {args.connection!r}")
    return 0
