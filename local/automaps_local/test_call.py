"""`automaps test-call`: place the call a make_phone_call step would place, to any number, with
a sample or given contact, without an enrollment.

    automaps test-call --to +14155550123 --map welcome-leads --step welcome-call
        [--contact jane.json] [--maps maps/] [--stack-name automaps]

The step's script is rendered (merge fields from the sample contact or ``--contact``) and placed
through the same code as the action (automaps.actions.make_phone_call.place_call): End User
Messaging voice for spoken scripts, Amazon Connect for scripts that connect or record. With
``--stack-name`` the connections come from the deployed stack's content table.
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from automaps_local.test_email import add_stack_arguments, sample_contact, use_stack


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", required=True, help="the number to call (E.164, e.g. +14155550123)")
    parser.add_argument("--map", required=True, help="the map's id (maps/<id>.yaml)")
    parser.add_argument("--step", required=True, help="the id of the make_phone_call step")
    parser.add_argument("--maps", type=Path, default=Path("maps"), help="the maps folder")
    parser.add_argument("--contact", type=Path, help="JSON file with the contact's fields for the merge fields")
    add_stack_arguments(parser)


class NoSuchStep(LookupError):
    pass


def step_settings(maps: Path, map_id: str, step_id: str):
    """The settings of the make_phone_call step ``step_id`` of map ``map_id``."""
    from automaps.maps.loader import load_map
    from automaps.maps.model import ActionStep, walk

    path = maps / f"{map_id}.yaml"
    if not path.exists():
        raise NoSuchStep(f"no map {path}")
    steps = {ref.step.id: ref.step for ref in walk(load_map(path)) if ref.step.id}
    step = steps.get(step_id)
    if step is None:
        raise NoSuchStep(f"map {map_id!r} has no step {step_id!r}; its steps: {', '.join(steps) or 'none'}")
    if not isinstance(step, ActionStep) or step.action != "make_phone_call":
        raise NoSuchStep(f"step {step_id!r} of map {map_id!r} is not a make_phone_call step")
    return step.settings


def place_test_call(args: argparse.Namespace) -> dict:
    from automaps import rendering
    from automaps.actions.make_phone_call import place_call
    from automaps.channels import sms

    settings = step_settings(args.maps, args.map, args.step)
    to = sms.to_e164(args.to)
    contact = sample_contact(args.contact, phone=to)
    context = rendering.merge_context(contact)
    return place_call(
        settings,
        to=to,
        client_token=f"test-call-{uuid.uuid4()}",
        contact_id=contact.id,
        render=lambda text: rendering.render(text, context, where=f"the script of step {args.step!r}"),
    )


def run(args: argparse.Namespace) -> int:
    from automaps.journeys.steps import PermanentError, TransientError
    from automaps.maps.loader import MapError
    from automaps.rendering import MissingField, TemplateProblem

    use_stack(args.stack_name, args.region)
    try:
        placed = place_test_call(args)
    except MissingField as missing:
        print(f"error: {missing}; give them in --contact")
        return 2
    except (NoSuchStep, MapError, TemplateProblem, ValueError, OSError) as error:
        print(f"error: {error}")
        return 2
    except PermanentError as error:
        print(f"error: not placed: {error}")
        return 1
    except TransientError as error:
        print(f"error: not placed, try again: {error}")
        return 1
    print(f"test call {placed['call_id']} placed to {placed['to']} through {placed['provider']}")
    return 0
