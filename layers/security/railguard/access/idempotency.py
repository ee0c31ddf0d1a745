"""Idempotency keys: a client that retries a creation (its first reply lost to a timeout) with the
same `Idempotency-Key` does not create a second resource.

The key is remembered for a day, per caller and workspace, in the same transaction as the
creation it names, so the two exist together or not at all. A retry finds it and is told what
was created; the same key with a different request is a conflict. Nothing secret is kept to
replay: a key's or token's secret was shown once, so a retry of its creation answers with the id
(409 `already_applied`), and the client rotates it for a new secret if the first reply was lost.

What the key was used for is remembered as an HMAC of the operation and its body under a KMS
HMAC key (`railguard.crypto.envelope.KmsMac`), never as an unkeyed hash: a credential's value is in
that body. The key never leaves KMS, so neither a copy of the table nor a function role's own keys
can confirm a guessed value offline; each guess is a `GenerateMac` call, throttled and logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from railguard.access.idempotency_repository import IdempotencyKeys, RememberedKey
from railguard.core.errors import Conflict, ValidationFailed
from railguard.store import Table, TransactItem

if TYPE_CHECKING:  # the envelope (KMS) is loaded only by the functions that create
    from railguard.crypto.envelope import KmsMac

HEADER = "Idempotency-Key"
REMEMBERED_SECONDS = 24 * 3600
# Visible ASCII, as the IETF draft and the usual clients (UUIDs, ULIDs) have it.
_VALUE = re.compile(r"[\x21-\x7e]{1,255}")


class AlreadyApplied(Conflict):
    """The request with this Idempotency-Key was applied before; `details.id` names what it
    created."""

    code = "already_applied"
    default_message = "A request with this Idempotency-Key was already applied."


class RepeatRaced(Exception):
    """What the write that remembers a key declares when it fails: a concurrent request with the
    same key got there first. Each creation decides what that means for its reply."""


def _plain(value: object) -> object:
    """JSON for what pydantic keeps apart: a secret's value (a `SecretStr`, known by its method:
    importing pydantic here would load it into the authorizer, through the key lookup) counts
    in what was asked."""
    reveal = getattr(value, "get_secret_value", None)
    return reveal() if callable(reveal) else str(value)


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's Idempotency-Key, bound to who sent it, where, and what they asked."""

    digest: str  # of the caller and the key: the item's sort key
    # SHA-256 of the operation and its input, secrets included (the same key must mean the same
    # request). Held only to be MACed under `macs`' key, never stored or shown: a KMS MAC covers
    # at most 4 KiB, a body may be longer.
    request_digest: str = field(repr=False)
    macs: KmsMac = field(repr=False, compare=False)

    @classmethod
    def parse(
        cls,
        value: str | None,
        *,
        caller: str,
        operation: str,
        request: Mapping[str, Any],
        macs: KmsMac,
    ) -> IdempotencyKey | None:
        """None without a header; 400 for a value that is not 1-255 visible ASCII characters."""
        if value is None:
            return None
        if not _VALUE.fullmatch(value):
            raise ValidationFailed(
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
                details={"field": HEADER},
            )
        digest = hashlib.sha256(f"{caller}\n{value}".encode()).hexdigest()
        canonical = json.dumps(
            {"operation": operation, "request": request}, sort_keys=True, default=_plain
        )
        return cls(digest, hashlib.sha256(canonical.encode()).hexdigest(), macs)

    def earlier(self, table: Table, workspace_id: str, now: int) -> str | None:
        """The id the same request created within the last day, else None; a conflict when the
        key was used for another request."""
        remembered = IdempotencyKeys(table).get(workspace_id, self.digest)
        if remembered is None or remembered.expires_at <= now:
            return None
        if not self._same_request(remembered, workspace_id):
            raise Conflict(
                "This Idempotency-Key was used for a different request.",
                details={"field": HEADER},
            )
        return remembered.resource_id

    def _fingerprint(self, workspace_id: str) -> str:
        """Bound to the record it is kept in, so equal requests of two records (two workspaces
        storing one value) do not show as equal fingerprints."""
        return self.macs.of(f"{workspace_id}\n{self.digest}\n{self.request_digest}".encode())

    def _same_request(self, remembered: RememberedKey, workspace_id: str) -> bool:
        return hmac.compare_digest(self._fingerprint(workspace_id), remembered.request_mac)

    def refuse_repeat(self, table: Table, workspace_id: str, now: int, *, created: str) -> None:
        """For creations whose reply holds a secret shown once (a key, a trigger's token): a
        repeat is refused with the id of what the first created, since the secret is kept
        nowhere to be shown again."""
        earlier = self.earlier(table, workspace_id, now)
        if earlier is not None:
            raise AlreadyApplied(
                f"This Idempotency-Key already created the {created} named in details.id; its "
                "secret was shown once. Rotate it for a new one if that reply was lost.",
                details={"id": earlier},
            )

    def remembered(self, workspace_id: str, resource_id: str, now: int) -> TransactItem:
        """The write that remembers this key with the creation it rides along with; it fails
        its condition when a concurrent request with the same key got there first."""
        remembered = RememberedKey(
            resource_id, self._fingerprint(workspace_id), now + REMEMBERED_SECONDS
        )
        return IdempotencyKeys.remember(
            workspace_id, self.digest, remembered, now=now, fails_as=RepeatRaced
        )


@dataclass(frozen=True)
class ShownOnce:
    """A creation whose reply holds a secret shown once (a key, a trigger's token), under the
    client's Idempotency-Key if it sent one (`idempotency`): its repeat is refused with the id of
    what the first created (`IdempotencyKey.refuse_repeat`), both before the creation and when a
    concurrent request with the same key committed first."""

    idempotency: IdempotencyKey | None
    table: Table
    workspace_id: str
    now: int
    created: str  # what it creates, as the refusal names it: "key", "trigger"

    def refuse_repeat(self) -> None:
        if self.idempotency is not None:
            self.idempotency.refuse_repeat(
                self.table, self.workspace_id, self.now, created=self.created
            )

    def commit(
        self,
        append: Callable[[Sequence[TransactItem]], object],
        writes: Sequence[TransactItem],
        resource_id: str,
    ) -> None:
        """`append` the creation's writes and the one that remembers the key, in one
        transaction. `RepeatRaced` only when a concurrent request with the same key won and
        what it created cannot be named (it is refused as a repeat otherwise)."""
        remembered = (
            []
            if self.idempotency is None
            else [self.idempotency.remembered(self.workspace_id, resource_id, self.now)]
        )
        try:
            append([*writes, *remembered])
        except RepeatRaced:
            self.refuse_repeat()
            raise
