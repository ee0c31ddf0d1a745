"""Usage (issue 21, contract section 11) end to end: a key's refusals counted by the local
stack's authorizer instances and readable within the flush delay, the allowed requests equal to
those sent, who may read it, and a member's last use in the members list, over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from railguard.usage.tally import FLUSH_AFTER_SECONDS
from tests.e2e.local_stack import StackProcess
from tests.e2e.people import Owner, create_key, me_status_from, new_member, new_owner

pytestmark = pytest.mark.e2e
# The flush delay, and time for the stack's instances to answer the request that flushes.
COUNTED_WITHIN_SECONDS = FLUSH_AFTER_SECONDS + 5.0
FORBIDDEN = {"message": "Forbidden"}


def _usage(stack: StackProcess, headers: dict[str, str], key_id: str | None = None) -> Any:
    path = f"/api/v1/api-keys/{key_id}/usage" if key_id else "/api/v1/usage"
    return requests.get(f"{stack.url}{path}", headers=headers, params={"limit": 2}, timeout=10)


def _totals(stack: StackProcess, owner: Owner, key_id: str | None = None) -> dict[str, int]:
    """The counts of the last two hours (the current one holds this test's requests)."""
    answer = _usage(stack, owner.headers, key_id)
    assert answer.status_code == 200, answer.text
    buckets = answer.json()["data"]
    names = ("allowed", "refused_credential", "refused_network", "refused_scope", "rate_limited")
    return {name: sum(bucket[name] for bucket in buckets) for name in names}


def _counted(stack: StackProcess, owner: Owner, key_id: str, outcome: str, expected: int) -> int:
    """The key's count of `outcome` once it is `expected`, or when the bound has passed: each
    read goes through the authorizer, whose invocation writes what its instance holds."""
    deadline = time.monotonic() + COUNTED_WITHIN_SECONDS
    count = _totals(stack, owner, key_id)[outcome]
    while count != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        count = _totals(stack, owner, key_id)[outcome]
    return count


def test_a_keys_refusals_are_readable_within_the_flush_delay(stack: StackProcess) -> None:
    # Given a key usable from 10.0.0.0/8 only
    owner = new_owner(stack)
    key = create_key(stack, owner.headers, allowed_ips=["10.0.0.0/8"])
    # When it is used twice from 127.0.0.1
    for _ in range(2):
        assert me_status_from(stack, "127.0.0.1", {"X-API-Key": key["key"]}) == 403
    # Then both refusals are counted for the key within the flush delay
    assert _counted(stack, owner, key["id"], "refused_network", 2) == 2
    # And for its workspace
    assert _totals(stack, owner)["refused_network"] == 2


def test_a_keys_allowed_requests_are_exactly_those_sent(stack: StackProcess) -> None:
    # Given a key
    owner = new_owner(stack)
    key = create_key(stack, owner.headers)
    # When it makes three requests
    for _ in range(3):
        assert me_status_from(stack, "127.0.0.1", {"X-API-Key": key["key"]}) == 200
    # Then its usage says three allowed at once (the rate limiter's own count, no flush delay)
    assert _totals(stack, owner, key["id"])["allowed"] == 3


def test_usage_is_for_owners_and_admins_of_the_workspace_only(stack: StackProcess) -> None:
    # Given a workspace with a key and a user member, and another workspace's owner
    owner = new_owner(stack)
    key = create_key(stack, owner.headers)
    member = new_member(stack, owner, "user")
    outsider = new_owner(stack)
    in_owners = {"X-Workspace-ID": owner.workspace}
    # When the member, the key and the outsider read it
    by_member = _usage(stack, {**member.headers, **in_owners}, key["id"])
    by_key = _usage(stack, {"X-API-Key": key["key"], **in_owners})
    by_outsider = _usage(stack, outsider.headers, key["id"])
    # Then the member and the key get API Gateway's 403, the outsider 404
    assert (by_member.status_code, by_member.json()) == (403, FORBIDDEN)
    assert (by_key.status_code, by_key.json()) == (403, FORBIDDEN)
    assert by_outsider.status_code == 404
    assert by_outsider.json()["error"]["code"] == "not_found"
    # And the owner reads it, as a list
    mine = _usage(stack, owner.headers, key["id"])
    assert mine.status_code == 200
    assert len(mine.json()["data"]) == 2
    assert mine.json()["meta"]["next_cursor"] is not None


def test_a_members_last_use_is_in_the_members_list(stack: StackProcess) -> None:
    # Given a workspace and a user member who has not used it yet
    owner = new_owner(stack)
    member = new_member(stack, owner, "user")
    workspace = f"{stack.url}/api/v1/workspaces/{owner.workspace}"

    def last_use() -> tuple[str | None, str | None, str | None]:
        listed = requests.get(f"{workspace}/members", headers=owner.headers, timeout=10)
        assert listed.status_code == 200, listed.text
        (row,) = [m for m in listed.json()["data"] if m["email"] == member.email]
        return row["last_used_at"], row["last_used_ip"], row["last_used_user_agent"]

    assert last_use() == (None, None, None)
    # When the member reads the workspace with a user agent of its own
    headers = {**member.headers, "User-Agent": "e2e-member/1.0"}
    assert requests.get(workspace, headers=headers, timeout=10).status_code == 200
    # Then the owner's members list says when, from where (the TCP peer) and by what
    used_at, address, agent = last_use()
    assert used_at is not None
    assert (address, agent) == ("127.0.0.1", "e2e-member/1.0")
