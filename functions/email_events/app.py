"""EventBridge rule target: the SES configuration set's engagement events (delivered, opened,
clicked, bounced, complained) recorded on the contact's history, once each; a permanent bounce or
a complaint suppresses the address (automaps.intake.engagement)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from automaps.intake import engagement

logger = Logger()


@logger.inject_lambda_context(clear_state=True)  # no keys of an earlier event in this one's logs
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    try:
        ses_event = engagement.SesEngagementEvent.model_validate(event)
    except ValidationError as error:  # retrying would not make it parse: log it and let it go
        logger.warning("not an SES event record", extra={"errors": error.errors(include_input=False)})
        return {"kind": None, "recorded": False, "reason": "not an SES event record", "suppressed": []}
    logger.append_keys(detail_type=ses_event.detail_type, message_id=ses_event.detail.mail.messageId)
    return engagement.record_ses_event(ses_event.detail).as_dict()
