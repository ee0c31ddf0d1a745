"""Item keys of the single-table design (docs/data-model.md) that more than one package reads.

A resource's own keys are built in its repository (e.g. `railguard.credentials.repository`);
either way a key is built in one place, so the map in the docs and the code cannot drift apart,
and a workspace-scoped key cannot be built without its workspace id.
"""

from __future__ import annotations

import hashlib

from railguard.store.table import ItemKey


def normalize_email(email: str) -> str:
    """One spelling per mailbox for lookups: case-folded (pydantic has already normalized it)."""
    return email.strip().lower()


def user_partition(user_id: str) -> str:
    return f"USER#{user_id}"


SESSION_PREFIX = "SESSION#"


def user_profile(user_id: str) -> ItemKey:
    return (user_partition(user_id), "PROFILE")


def login(email: str) -> ItemKey:
    return (f"EMAIL#{normalize_email(email)}", "LOGIN")


def session(user_id: str, session_id: str) -> ItemKey:
    return (user_partition(user_id), f"{SESSION_PREFIX}{session_id}")


def workspace(workspace_id: str) -> ItemKey:
    return (f"WS#{workspace_id}", "META")


def api_key(key_digest: str) -> ItemKey:
    """The key record, found from the key a client presents (by its digest)."""
    return (f"APIKEY#{key_digest}", "KEY")


def webhook_trigger(lookup_digest: str) -> ItemKey:
    """A webhook trigger's state, found from the token a caller presents (by its keyed hash)."""
    return (f"WEBHOOK#{lookup_digest}", "TRIGGER")


# The retention job's sweep index (gsi2, keys only, which also holds the anchor job's work list,
# `railguard.audit.repository`): items with a `ttl`, spread over a few partitions so that the
# writes of busy counters do not all land on one.
SWEEP_SHARDS = 16


def shard_of(pk: str, shards: int) -> int:
    """A stable spread of partitions over `shards` index partitions."""
    return int(hashlib.sha256(pk.encode()).hexdigest()[:8], 16) % shards


def sweep_index(pk: str, ttl: int) -> dict[str, str]:
    return {"gsi2pk": sweep_partition(shard_of(pk, SWEEP_SHARDS)), "gsi2sk": f"{ttl:012d}"}


def sweep_partition(shard: int) -> str:
    return f"TTL#{shard:02d}"


# The retention job's index (gsi1): soft-deleted resources in the order they were deleted.
DELETED_INDEX_PARTITION = "DELETED"


def deleted_index(deleted_at: int, item_id: str) -> dict[str, str]:
    return {"gsi1pk": DELETED_INDEX_PARTITION, "gsi1sk": f"{deleted_at:012d}#{item_id}"}


def workspace_trail(workspace_id: str) -> str:
    """The partition of a workspace's audit events (in the audit table) and of its chain head."""
    return f"WS#{workspace_id}"


def user_trail(user_id: str) -> str:
    """The partition of a user's own security events (login, password, MFA) and chain head."""
    return f"USER#{user_id}"
