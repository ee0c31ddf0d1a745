"""Item keys of the single-table design (docs/data-model.md), in one place.

Every key the domain reads or writes is built here, so the map in the docs and the code cannot
drift apart, and a workspace-scoped key cannot be built without its workspace id.
"""

from __future__ import annotations

import hashlib

from railguard.store.table import ItemKey


def normalize_email(email: str) -> str:
    """One spelling per mailbox for lookups: case-folded (pydantic has already normalized it)."""
    return email.strip().lower()


def user_profile(user_id: str) -> ItemKey:
    return (f"USER#{user_id}", "PROFILE")


def login(email: str) -> ItemKey:
    return (f"EMAIL#{normalize_email(email)}", "LOGIN")


def session(user_id: str, session_id: str) -> ItemKey:
    return (f"USER#{user_id}", f"SESSION#{session_id}")


SESSION_PREFIX = "SESSION#"


def user_partition(user_id: str) -> str:
    return f"USER#{user_id}"


def refresh_token(token_digest: str) -> ItemKey:
    return (f"REFRESH#{token_digest}", "TOKEN")


def throttle_window(subject: str, window_start: int) -> ItemKey:
    return (f"THROTTLE#{subject}", f"WINDOW#{window_start}")


SIGNING_KEY_PARTITION = "SIGNING_KEY"


def signing_key(kid: str) -> ItemKey:
    return (SIGNING_KEY_PARTITION, kid)


def workspace(workspace_id: str) -> ItemKey:
    return (f"WS#{workspace_id}", "META")


def api_key(key_digest: str) -> ItemKey:
    """The key record, found from the key a client presents (by its digest)."""
    return (f"APIKEY#{key_digest}", "KEY")


def rate_window(subject: str, window_seconds: int, window_start: int) -> ItemKey:
    return (f"RATE#{subject}", f"WINDOW#{window_seconds}#{window_start}")


def credential(workspace_id: str, credential_id: str) -> ItemKey:
    return (f"WS#{workspace_id}", f"CREDENTIAL#{credential_id}")


def credential_default(workspace_id: str, credential_type: str) -> ItemKey:
    """Names the default credential of one type in a workspace (at most one, by construction)."""
    return (f"WS#{workspace_id}", f"CREDDEFAULT#{credential_type}")


def totp(user_id: str) -> ItemKey:
    """The user's TOTP factor: its sealed secret, pending or enabled, and the last step used."""
    return (f"USER#{user_id}", "MFA#TOTP")


def recovery_codes(user_id: str) -> ItemKey:
    """The digests of the user's unused recovery codes, as one set."""
    return (f"USER#{user_id}", "MFA#RECOVERY")


def mfa_challenge(token_digest: str) -> ItemKey:
    """A login waiting for its second factor, found by the digest of its `mfa_token`."""
    return (f"MFACHALLENGE#{token_digest}", "CHALLENGE")


def webhook_trigger(lookup_digest: str) -> ItemKey:
    """A webhook trigger's state, found from the token a caller presents (by its keyed hash)."""
    return (f"WEBHOOK#{lookup_digest}", "TRIGGER")


def webhook_trigger_pointer(workspace_id: str, trigger_id: str) -> ItemKey:
    """A workspace's entry for one of its triggers: lists them and finds them by id."""
    return (f"WS#{workspace_id}", f"TRIGGER#{trigger_id}")


def idempotency(workspace_id: str, key_digest: str) -> ItemKey:
    """A creation's Idempotency-Key (by digest of the caller and the key), for a day."""
    return (f"WS#{workspace_id}", f"IDEMPOTENCY#{key_digest}")


def webhook_delivery(trigger_id: str, signature_digest: str) -> ItemKey:
    """A signed trigger call seen within the timestamp window: a second one is a replay."""
    return (f"WEBHOOKSEEN#{trigger_id}", signature_digest)


def server_key(name: str) -> ItemKey:
    """A key the service made for itself (e.g. the one that hashes trigger tokens), sealed."""
    return ("SERVER_KEY", name)


def agent_ui(workspace_id: str, agent_ui_id: str) -> ItemKey:
    return (f"WS#{workspace_id}", f"AGENTUI#{agent_ui_id}")


def agent_ui_lookup(agent_ui_id: str) -> ItemKey:
    """Which workspace a deployment is in, for its public routes (which name no workspace)."""
    return (f"AGENTUI#{agent_ui_id}", "LOOKUP")


def agent_ui_session(token_digest: str) -> ItemKey:
    """A session opened by unlocking a deployment, found by the digest of its token."""
    return (f"AGENTUISESSION#{token_digest}", "SESSION")


# The retention job's sweep index (gsi2, keys only, which also holds the anchor job's work list
# below): items with a `ttl`, spread over a few partitions so that the writes of busy counters
# do not all land on one.
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


def audit_event(trail: str, seq: int) -> ItemKey:
    """An event of a trail, in the audit table; zero-padded so the sort key orders by `seq`."""
    return (trail, f"EVENT#{seq:012d}")


AUDIT_EVENT_PREFIX = "EVENT#"


# The anchor job's work list (gsi2, keys only): the heads of trails that moved since they were
# last anchored, by the time of their first move since, spread like the sweep.
ANCHOR_SHARDS = 16


def anchor_partition(shard: int) -> str:
    return f"ANCHOR#{shard:02d}"


def anchor_due(trail: str) -> str:
    """The work-list partition a trail's head joins when it moves."""
    return anchor_partition(shard_of(trail, ANCHOR_SHARDS))


def audit_head(trail: str) -> ItemKey:
    """The trail's last sequence number and hash, in the main table (it is the one audit item
    that changes, so it is kept out of the audit table, where nothing may change)."""
    return (trail, "AUDITHEAD")
