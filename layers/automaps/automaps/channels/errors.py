"""Provider errors, classified once: what is worth a retry, what is not, and what may have been
accepted (the request went out, the answer was lost), which must never be sent again."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from automaps.errors import OutcomeUnknown, PermanentError, TransientError


@contextlib.contextmanager
def provider_call(service: str, classify: Callable[[ClientError], Exception]) -> Iterator[None]:
    """Turn an AWS SDK failure into TransientError (the state's Retry runs again), PermanentError
    (recorded, the contact moves on) or OutcomeUnknown; ``classify`` decides for answered calls.

    botocore's ``ConnectionError`` family (connect refused or timed out, DNS, TLS, proxy) fails
    before the request is sent: transient. The other ``HTTPClientError`` s (``ReadTimeoutError``,
    ``ConnectionClosedError``, ...) happen once it may have reached the service: unknown."""
    try:
        yield
    except ClientError as error:
        raise classify(error) from None
    except BotoConnectionError as error:
        raise TransientError(f"{service} could not be reached: {type(error).__name__}") from None
    except HTTPClientError as error:
        raise OutcomeUnknown(
            service, f"{service} may have accepted the request but its answer was lost ({type(error).__name__})"
        ) from None
    except BotoCoreError as error:
        raise PermanentError(f"{service} request failed: {type(error).__name__}") from None
