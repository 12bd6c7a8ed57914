"""What every handler must import before any automaps code: the cold-import floor of our stack.

boto3 (the idempotency store's client), pydantic with one model built, and the Powertools pieces
each handler uses (Logger, metrics, idempotency). The benchmark imports this module like a
handler, so its ratio to bare boto3 is the best any handler could reach without dropping a
library the architecture requires.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics  # noqa: F401
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function  # noqa: F401
from aws_lambda_powertools.utilities.idempotency.persistence.dynamodb import DynamoDBPersistenceLayer  # noqa: F401
from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_id: str = Field(min_length=1)
    settings: dict = {}


logger = Logger()
