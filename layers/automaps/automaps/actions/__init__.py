"""Action types: one module each, holding its ``Settings`` model and its behaviour ``run``.

The registry below is the single list of action types. From an action's name follow, by
convention, everything else: its module ``automaps.actions.<name>``, its Lambda folder
``functions/<name>/``, its function resource ``<Camel>Function`` in template.yaml and the
DefinitionSubstitutions key ``<Camel>FunctionArn`` the compiled state machines use.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pydantic import BaseModel

ACTION_TYPES: tuple[str, ...] = (
    "change_tags",
    "update_contact",
    "send_email",
    "send_sms",
    "add_note",
    # messages
    "make_phone_call",
    # team and contact data
    "notify_team_email",
    "notify_team_sms",
    "assign_task",
    "add_to_list",
    "remove_from_list",
    "send_to_fulfillment",
    "remove_from_fulfillment",
    # commerce and access
    "cancel_open_orders",
    "recharge_transactions",
    "grant_wordpress_membership",
    "revoke_wordpress_membership",
    "add_product",
    "remove_product",
    "add_purchase",
    "create_special_offer",
    "remove_special_offer",
    "add_course_subscription",
    "update_membership_access",
    # routing and integrations
    "send_webhook",
    "add_to_lead_router",
    "facebook_custom_audience",
    "ai_assistant",
    # moving contacts between maps
    "add_to_automation",
    "remove_from_automation",
    "pause_automation",
    "unpause_automation",
    "add_to_sequence",
    "remove_from_sequence",
    "pause_sequence",
    "unpause_sequence",
    "start_follow_up",
    "stop_follow_up",
)


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def function_resource(name: str) -> str:
    """Logical id of the Lambda function in template.yaml, e.g. ``SendEmailFunction``."""
    return f"{camel(name)}Function"


def function_arn_substitution(name: str) -> str:
    """DefinitionSubstitutions key, e.g. ``SendEmailFunctionArn`` (``${SendEmailFunctionArn}``)."""
    return f"{function_resource(name)}Arn"


def module(name: str) -> ModuleType:
    if name not in ACTION_TYPES:
        raise KeyError(f"unknown action type {name!r}; known: {', '.join(ACTION_TYPES)}")
    return importlib.import_module(f"automaps.actions.{name}")


def settings_model(name: str) -> type[BaseModel]:
    return module(name).Settings
