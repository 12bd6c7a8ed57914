"""automaps: the shared layer every Lambda of the backend imports.

Organised by concept:
    clock        the one injectable source of time
    config       deployment settings, read when needed
    aws          lazily created AWS clients
    maps/        the map model (what users write) and the compiler (map -> ASL)
    contacts     the contacts store (DynamoDB): profile, tags, notes, history, enrollments
    conditions   condition model and evaluation
    rendering    sandboxed Jinja2 merge fields and templates
    channels/    email (SES) and SMS (SNS) senders
    actions/     one module per action type: settings model + behaviour
    steps        the idempotent step runner every action handler goes through
    forms        form submissions: parsing, upsert, enrollment
    snapstart    what each environment restored from the SnapStart snapshot re-initialises
"""

from automaps import snapstart as _snapstart  # noqa: F401  registers the restore hook in every handler

__version__ = "0.1.0"
