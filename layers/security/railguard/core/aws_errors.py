"""What an AWS call's failure means, in the one shape the clients of S3 and DynamoDB share: the
codes a caller gives a meaning of its own, then "not now" (`ServiceUnavailable`, 503, retryable)
for the service's retryable codes and for connection failures and timeouts."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Set
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from railguard.core.errors import ServiceUnavailable


@contextmanager
def translated_errors(
    meaning: Callable[[str, ClientError], None], retryable: Set[str]
) -> Iterator[None]:
    """`meaning(code, error)` raises what a code means to the caller, or returns for the rest:
    a retryable code is then `ServiceUnavailable`, any other the error itself."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        meaning(code, error)
        if code in retryable:
            raise ServiceUnavailable from error
        raise
    except BotoCoreError as error:
        # Connection failures and timeouts: the request may or may not have applied.
        raise ServiceUnavailable from error
