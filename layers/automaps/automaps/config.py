"""Deployment settings, read from the environment each time they are needed.

Nothing here is read at import time, so tests can set the environment in any order.
The names are the environment variables ``template.yaml`` sets in Globals.
"""

from __future__ import annotations

import os


class ConfigError(RuntimeError):
    pass


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} is not set (template.yaml sets it in Globals)")
    return value


def contacts_table() -> str:
    return _required("CONTACTS_TABLE")


def content_table() -> str:
    return _required("CONTENT_TABLE")


def idempotency_table() -> str:
    return _required("IDEMPOTENCY_TABLE")


def email_from() -> str:
    return _required("EMAIL_FROM")


def public_api_url() -> str:
    """Base URL of the public API (unsubscribe links point here), without trailing slash."""
    return _required("PUBLIC_API_URL").rstrip("/")


def signing_secret_arn() -> str:
    return _required("SIGNING_SECRET_ARN")


def ingest_secret_arn() -> str:
    """The secret that signs requests to the ingestion endpoint (``Automaps-Signature``)."""
    return _required("INGEST_SECRET_ARN")


def state_machine_prefix() -> str:
    """ARN prefix of this stack's state machines; a map's ARN is this prefix plus its id."""
    return _required("STATE_MACHINE_ARN_PREFIX")


def enroll_queue_url() -> str:
    """The intake queue (``EnrollQueue``): every trigger's enrollment requests go through it."""
    return _required("ENROLL_QUEUE_URL")


def waits_scheduler() -> tuple[str, str, str] | None:
    """Where long waits are handed: (schedule group, the role EventBridge Scheduler sends with, the
    EnrollQueue's ARN); None when the stack sets none (waits then stay in their executions)."""
    group, role, queue = (
        os.environ.get(name) for name in ("WAITS_SCHEDULE_GROUP", "SCHEDULER_ROLE_ARN", "ENROLL_QUEUE_ARN")
    )
    return (group, role, queue) if group and role and queue else None


def enroll_start_pacing() -> tuple[float, float, int]:
    """How fast the intake consumer may call StartExecution: (starts per second, burst, pollers),
    from ``ENROLL_STARTS_PER_SECOND`` (default 290), ``ENROLL_STARTS_BURST`` (1200) and
    ``ENROLL_POLLERS`` (the event source's MaximumConcurrency, 10), for all pollers together."""
    values = []
    for name, default in (("ENROLL_STARTS_PER_SECOND", 290.0), ("ENROLL_STARTS_BURST", 1200.0), ("ENROLL_POLLERS", 10)):
        raw = os.environ.get(name) or str(default)
        try:
            value = type(default)(raw)
        except ValueError:
            raise ConfigError(f"environment variable {name} must be a number, not {raw!r}") from None
        if value <= 0:
            raise ConfigError(f"environment variable {name} must be positive, not {raw!r}")
        values.append(value)
    return float(values[0]), float(values[1]), int(values[2])


def ses_configuration_set() -> str | None:
    return os.environ.get("SES_CONFIGURATION_SET") or None


def sms_sender_id() -> str | None:
    return os.environ.get("SMS_SENDER_ID") or None


def starts_scheduler() -> tuple[str, str, str] | None:
    """Where the schedules of maps a moment starts go (automaps.journeys.schedules): (schedule group,
    the role EventBridge Scheduler sends with, the EnrollQueue's ARN), from ``STARTS_SCHEDULE_GROUP``,
    ``SCHEDULER_ROLE_ARN`` and ``ENROLL_QUEUE_ARN``; None when the stack sets no group (no schedules)."""
    group, role, queue = (
        os.environ.get(name) for name in ("STARTS_SCHEDULE_GROUP", "SCHEDULER_ROLE_ARN", "ENROLL_QUEUE_ARN")
    )
    return (group, role, queue) if group and role and queue else None


def send_rate(channel: str) -> float:
    """Messages a second ``channel`` may send, all Lambdas together (automaps.channels.rates):
    ``EMAIL_SEND_RATE`` (SES's MaxSendRate) or ``SMS_SEND_RATE`` (a sending identity's messages
    per second); 0 or unset: no pacing."""
    name = {"email": "EMAIL_SEND_RATE", "sms": "SMS_SEND_RATE"}[channel]
    raw = os.environ.get(name) or "0"
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be a number of messages a second, not {raw!r}") from None
    if value < 0:
        raise ConfigError(f"environment variable {name} must be 0 (no pacing) or positive, not {raw!r}")
    return value


def wait_spread() -> int:
    """The stack's default spread window of synchronized moments, in seconds (``WAIT_SPREAD_SECONDS``,
    default 0: exact); a map's ``waits.spread`` or a step's ``spread`` overrides it."""
    raw = os.environ.get("WAIT_SPREAD_SECONDS") or "0"
    try:
        value = int(float(raw))
    except ValueError:
        raise ConfigError(
            f"environment variable WAIT_SPREAD_SECONDS must be a number of seconds, not {raw!r}"
        ) from None
    if not 0 <= value <= 6 * 3600:
        raise ConfigError(f"environment variable WAIT_SPREAD_SECONDS must be 0 to 21600 (6 hours), not {raw!r}")
    return value
