"""Provider errors, classified once: what is worth a retry and what is not."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from automaps.steps import PermanentError, TransientError


@contextlib.contextmanager
def provider_call(service: str, classify: Callable[[ClientError], Exception]) -> Iterator[None]:
    """Turn an AWS SDK failure into TransientError (the state's Retry runs again) or
    PermanentError (recorded, the contact moves on); ``classify`` decides for answered calls."""
    try:
        yield
    except ClientError as error:
        raise classify(error) from None
    except (BotoConnectionError, HTTPClientError) as error:
        raise TransientError(f"{service} could not be reached: {type(error).__name__}") from None
    except BotoCoreError as error:
        raise PermanentError(f"{service} request failed: {type(error).__name__}") from None
