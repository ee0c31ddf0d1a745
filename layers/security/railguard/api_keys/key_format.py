"""What an API key looks like: `pr_live_` + 32 random base62 characters (190 bits) + the ULID of
its workspace's id (26 characters) + a 6-character checksum of both (`railguard.crypto
.opaque_tokens`).

The key names its workspace so that the authorizer can read the key's record and the workspace
in one BatchGetItem; the record, not the key, says which workspace the key belongs to, and a
record that names another workspace than its key is refused as unknown. The workspace's id is
no secret (requests name it in `X-Workspace-ID`); the random part comes first, so the displayed
prefix (`pr_live_` + 4 characters) still tells a workspace's keys apart.

Kept light (no pydantic, no storage): the authorizer imports it.
"""

from __future__ import annotations

from railguard.crypto import opaque_tokens
from railguard.kinds import WORKSPACE

API_KEY_PREFIX = "pr_live_"
_WORKSPACE_ID_PREFIX = f"{WORKSPACE.id_prefix}_"
_ULID_LENGTH = 26


def new_key(workspace_id: str) -> str:
    """A new key of the workspace `workspace_id`."""
    return opaque_tokens.new_token(API_KEY_PREFIX, workspace_id.removeprefix(_WORKSPACE_ID_PREFIX))


def workspace_named(key: str) -> str | None:
    """The id of the workspace a well-formed key names; None for a malformed key (its shape, its
    checksum or what it carries), decided without any read."""
    if not opaque_tokens.is_well_formed(key, API_KEY_PREFIX, _ULID_LENGTH):
        return None
    workspace_id = _WORKSPACE_ID_PREFIX + opaque_tokens.carried(key, API_KEY_PREFIX, _ULID_LENGTH)
    return workspace_id if WORKSPACE.is_id(workspace_id) else None
