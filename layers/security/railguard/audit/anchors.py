"""Audit trail anchors in S3: the only module that talks to S3.

An anchor is a trail's head (sequence number and hash) copied by the anchor job into a bucket
with Object Lock in compliance mode, where no function's role may write and nobody, the account's
root included, may change or remove an object version before its retention ends. The object's
key says everything a check needs, `<trail>/<999999999999 - seq, 12 digits>.<hash>`, so that
listing a trail's prefix gives its anchors newest first, with S3's own time of each write, and no
object is read. Listing versions rather than objects means a delete marker (which Object Lock
does not prevent, and the bucket policy refuses) cannot hide an anchor either. A body, JSON of
the same fields, is kept for people reading the bucket.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from railguard.audit.chain import Anchor, Head
from railguard.core.aws_errors import translated_errors
from railguard.core.clock import rfc3339

_LAST_SEQ = 10**12 - 1  # sequence numbers are 12 digits in the audit table's keys too
_NAME = re.compile(r"(?P<inverted>[0-9]{12})\.(?P<hash>[0-9a-f]{64})")
# S3's "not now": the caller may retry (the job's next run does). The last is a conditional put
# that met another one in flight on the same key.
_RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "ConditionalRequestConflict",
    }
)


class _KeyTaken(Exception):
    """A put conditioned on the key being new found it taken."""


def _meaning(code: str, _error: ClientError) -> None:
    if code == "PreconditionFailed":
        raise _KeyTaken from None


def _translated_errors() -> AbstractContextManager[None]:
    return translated_errors(_meaning, _RETRYABLE_CODES)


def anchor_key(trail: str, head: Head) -> str:
    return f"{_prefix(trail)}{_LAST_SEQ - head.seq:012d}.{head.hash}"


def _prefix(trail: str) -> str:
    return f"{trail}/"


def _parsed(trail: str, version: dict[str, Any]) -> Anchor | None:
    """The anchor a listed version names; None for anything else under the prefix."""
    match = _NAME.fullmatch(version["Key"].removeprefix(_prefix(trail)))
    if match is None:
        return None
    written: datetime = version["LastModified"]
    return Anchor(_LAST_SEQ - int(match["inverted"]), match["hash"], rfc3339(written.timestamp()))


class TrailAnchors:
    """Reads and adds a trail's anchors. Only the anchor job's role may add one (the bucket
    policy); the readers need only to list the bucket's versions."""

    def __init__(self, client: Any, bucket: str):
        # `Any`: the project installs no S3 type stubs; only these three calls are made.
        self._client = client
        self._bucket = bucket

    def latest(self, trail: str) -> Anchor | None:
        """The anchor with the highest sequence number, or None before the first."""
        return next(self._listed(trail, page_size=10), None)

    def every(self, trail: str) -> list[Anchor]:
        """Every anchor the trail ever had, lowest sequence number first: one per key, with the
        time of its first version (a later version of a key is the same anchor)."""
        first_written = {(a.seq, a.hash): a for a in self._listed(trail, page_size=1000)}
        return sorted(first_written.values(), key=lambda a: (a.seq, a.hash))

    def add(self, trail: str, head: Head) -> bool:
        """Anchor `head`; False when that anchor exists already (a run that repeats one). Never
        replaces an object: the put is conditional on the key being new, and the bucket policy
        refuses any put that is not."""
        body = json.dumps({"trail": trail, "seq": head.seq, "hash": head.hash})
        try:
            with _translated_errors():
                self._client.put_object(
                    Bucket=self._bucket,
                    Key=anchor_key(trail, head),
                    Body=body.encode(),
                    ContentType="application/json",
                    IfNoneMatch="*",
                )
        except _KeyTaken:
            return False
        return True

    def _listed(self, trail: str, *, page_size: int) -> Iterator[Anchor]:
        """The trail's anchors, newest first (the keys' order), page by page."""
        arguments: dict[str, Any] = {
            "Bucket": self._bucket,
            "Prefix": _prefix(trail),
            "MaxKeys": page_size,
        }
        while True:
            with _translated_errors():
                page = self._client.list_object_versions(**arguments)
            for version in page.get("Versions", []):
                anchor = _parsed(trail, version)
                if anchor is not None:
                    yield anchor
            if not page.get("IsTruncated"):
                return
            arguments["KeyMarker"] = page["NextKeyMarker"]
            arguments["VersionIdMarker"] = page["NextVersionIdMarker"]
