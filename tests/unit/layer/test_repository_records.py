"""The typed records the workspaces and API keys repositories read items into: what the
authorizer decides on, and what they never show."""

from __future__ import annotations

import pytest

from railguard.access.plans import RateLimit
from railguard.api_keys.repository import ApiKeyRepository, KeySettings, StoredKey
from railguard.identity.session_repository import RefreshToken
from railguard.store import Item, ItemKey
from railguard.workspaces.repository import Membership, WorkspaceRecord, WorkspaceRepository

WORKSPACE = {"name": "Team", "plan": "pro", "require_mfa": True, "created_at": 100}


def _found(status: str | None, role: str | None) -> dict[ItemKey, Item]:
    """The authorizer's batch read of the workspace `ws_1` and its member `usr_1`, as found."""
    workspace_key, member_key = WorkspaceRepository.membership_keys("ws_1", "usr_1")
    found: dict[ItemKey, Item] = {}
    if status is not None:
        found[workspace_key] = {"pk": workspace_key[0], "sk": workspace_key[1], "status": status}
        found[workspace_key] |= WORKSPACE
    if role is not None:
        found[member_key] = {"pk": member_key[0], "sk": member_key[1], "role": role}
    return found


def test_a_member_of_a_live_workspace_has_its_role_and_settings() -> None:
    # Given a live workspace and the user's membership, as one batch read finds them
    found = _found("active", "admin")
    # When the membership is read from them
    membership = WorkspaceRepository.membership_in(found, "ws_1", "usr_1")
    # Then it carries the role, and the workspace's plan and MFA rule
    assert membership == Membership(WorkspaceRecord("ws_1", "Team", "pro", True, 100), "admin")


def test_a_membership_carries_its_last_use_for_the_authorizer_to_judge_due() -> None:
    # Given a membership last used at 160 (with where from, which the authorizer needs not)
    found = _found("active", "user")
    _, member_key = WorkspaceRepository.membership_keys("ws_1", "usr_1")
    found[member_key] |= {"last_used_at": 160, "last_used_ip": "10.0.0.1"}
    # When it is read / Then it says when, and nothing else of the use
    membership = WorkspaceRepository.membership_in(found, "ws_1", "usr_1")
    assert membership == Membership(
        WorkspaceRecord("ws_1", "Team", "pro", True, 100), "user", last_used_at=160
    )


@pytest.mark.parametrize(
    ("status", "role"),
    [("deleted", "owner"), (None, "owner"), ("active", None)],
    ids=["deleted-workspace", "no-workspace-item", "not-a-member"],
)
def test_no_membership_without_a_live_workspace_and_a_member(
    status: str | None, role: str | None
) -> None:
    # Given a deleted or missing workspace, or no membership
    found = _found(status, role)
    # When the membership is read
    membership = WorkspaceRepository.membership_in(found, "ws_1", "usr_1")
    # Then there is none
    assert membership is None


def test_a_stored_key_never_shows_its_digest() -> None:
    # Given a key record as stored, under the digest of the key
    digest = "d" * 64
    item: Item = {
        "pk": f"APIKEY#{digest}",
        "sk": "KEY",
        "id": "key_1",
        "workspace_id": "ws_1",
        "name": "ci",
        "scopes": ["agents:read"],
        "allowed_ips": [],
        "allowed_origins": [],
        "expires_at": None,
        "rate_limit": {"requests": 10, "window_seconds": 60},
        "key_prefix": "pr_live_abcd",
        "masked_key": "pr_live_abcd****wxyz",
        "status": "active",
        "created_at": 100,
    }
    # When it is read into its record and shown (in a log line, a traceback)
    key = StoredKey.of(item)
    # Then the settings are typed, and the digest appears nowhere
    assert key.settings == KeySettings(
        "ci", ("agents:read",), (), (), None, RateLimit(requests=10, window_seconds=60)
    )
    assert digest not in repr(key)
    assert digest not in str(key)


def test_a_refresh_token_record_never_shows_its_digest() -> None:
    # Given a refresh token's record, keyed by the digest of the token
    token = RefreshToken("d" * 64, "usr_1", "ses_1", "active", 100)
    # Then neither its repr nor its str names the digest
    assert "d" * 64 not in repr(token)
    assert "d" * 64 not in str(token)


def test_a_new_keys_writes_declare_what_their_collision_means() -> None:
    # Given a key issued for a rotation, whose record or pointer might already exist
    def taken() -> Exception:
        return RuntimeError("taken")

    settings = KeySettings("k", ("agents:read",), (), (), None, None)
    _, writes = ApiKeyRepository.issue(
        "ws_1",
        "key_1",
        "d" * 64,
        settings,
        key_prefix="pr_live_ab",
        masked_key="pr_live_ab…cd",
        created_by="usr_1",
        now=1,
        fails_as=taken,
    )
    # Then both writes carry what their failure means
    assert [write.fails_as for write in writes] == [taken, taken]
