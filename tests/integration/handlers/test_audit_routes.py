"""Contract section 10 over HTTP: a workspace's trail for its owners and admins, filtered and
paged, its chain verified (and a tampered one located), and a user's own security events."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest

from railguard.audit import repository as audit_repository
from railguard.store import Table
from railguard.store import keys as item_keys
from railguard.store.table import serialize
from tests.support import accounts as a
from tests.support.inprocess import InProcessClient
from tests.support.plaintexts import remember

EVENTS = "/api/v1/audit-events"
EVENT_FIELDS = {
    "id",
    "occurred_at",
    "action",
    "actor",
    "target",
    "source_ip",
    "user_agent",
    "request_id",
    "details",
    "hash",
    "prev_hash",
}


pytestmark = pytest.mark.usefixtures("cheap_passwords")


@dataclass(frozen=True)
class Team:
    workspace: str
    owner_id: str
    owner: dict[str, str]  # headers
    member: dict[str, str]  # headers of a member with the role "user"


@pytest.fixture
def team(client: InProcessClient) -> Team:
    owner, member = a.new_account(), a.new_account()
    a.add_member(client, owner, member, "user")
    return Team(owner.workspace, owner.user_id, owner.headers(), member.headers(owner.workspace))


def _credential(client: InProcessClient, team: Team, name: str) -> str:
    reply = client.request(
        "POST",
        "/api/v1/credentials",
        headers=team.owner,
        body={"name": name, "type": "openai", "value": "sk-audit-route-test-0123456789"},
    )
    assert reply.status == 201, reply.body
    credential_id: str = reply.json()["data"]["id"]
    return credential_id


def _list(client: InProcessClient, team: Team, query: str = "") -> Any:
    reply = client.request("GET", f"{EVENTS}{query}", headers=team.owner)
    assert reply.status == 200, reply.body
    return reply.json()


def test_owners_read_the_trail_newest_first_in_the_contracts_shape(
    client: InProcessClient, team: Team
) -> None:
    # Given two credentials created, from a known address
    first, second = _credential(client, team, "one"), _credential(client, team, "two")
    # When the owner lists the trail
    events = _list(client, team)["data"]
    created = [event for event in events if event["action"] == "credential.created"]
    # Then the newest comes first, with every field of the contract and no secret
    assert [event["target"]["id"] for event in created] == [second, first]
    assert set(created[0]) == EVENT_FIELDS
    assert created[0]["actor"] == {"type": "user", "id": team.owner_id}
    assert created[0]["target"]["type"] == "credential"
    assert created[0]["source_ip"] == "127.0.0.1"
    assert "sk-audit-route-test" not in str(events)
    # And each event links to the one before it
    for newer, older in pairwise(events):
        assert newer["prev_hash"] == older["hash"]


def test_the_trail_filters_by_action_and_pages_by_cursor(
    client: InProcessClient, team: Team
) -> None:
    # Given three credentials created
    ids = [_credential(client, team, f"c{n}") for n in range(3)]
    # When they are read two at a time, filtered by action
    first = _list(client, team, "?action=credential.created&limit=2")
    cursor = first["meta"]["next_cursor"]
    second = _list(client, team, f"?action=credential.created&limit=2&cursor={cursor}")
    # Then the pages hold exactly the three, newest first, and end
    targets = [event["target"]["id"] for event in first["data"] + second["data"]]
    assert targets == list(reversed(ids))
    assert second["meta"]["next_cursor"] is None


def test_an_unknown_action_filter_is_a_400(client: InProcessClient, team: Team) -> None:
    reply = client.request("GET", f"{EVENTS}?action=api_key.exploded", headers=team.owner)
    assert reply.status == 400
    assert reply.json()["error"]["code"] == "validation_error"


def test_members_and_api_keys_may_not_read_the_trail(client: InProcessClient, team: Team) -> None:
    # Given a member with the role "user", and an API key with every scope
    created = client.request(
        "POST",
        "/api/v1/api-keys",
        headers=team.owner,
        body={"name": "all", "scopes": ["credentials:read", "credentials:write"]},
    ).json()["data"]
    remember(created["key"])
    key_headers = {"X-API-Key": created["key"]}
    # Then both are refused, for the trail and its check
    for path in (EVENTS, f"{EVENTS}/verify"):
        assert client.request("GET", path, headers=team.member).status == 403
        assert client.request("GET", path, headers=key_headers).status == 403


def test_verify_says_valid_and_finds_a_tampered_event(
    client: InProcessClient, team: Team, audit_table: Table
) -> None:
    # Given a trail with a few events
    for n in range(3):
        _credential(client, team, f"v{n}")
    verified = client.request("GET", f"{EVENTS}/verify", headers=team.owner).json()["data"]
    assert verified["valid"] is True
    checked = verified["events_checked"]
    assert checked >= 3
    # When someone with raw table access edits the second event
    trail = item_keys.workspace_trail(team.workspace)
    stored = audit_table.get(audit_repository.audit_event(trail, 2))
    assert stored is not None
    stored["details"] = {"name": "edited"}
    audit_table._client.put_item(TableName=audit_table.name, Item=serialize(stored))
    # Then the check fails and says where
    broken = client.request("GET", f"{EVENTS}/verify", headers=team.owner).json()["data"]
    assert broken["valid"] is False
    assert broken["events_checked"] == 1
    assert broken["broken_at"]["seq"] == 2
    assert broken["broken_at"]["event_id"] == stored["id"]


def test_a_workspace_reads_only_its_own_trail(client: InProcessClient, team: Team) -> None:
    # Given a credential created in the team's workspace, and another user's own workspace
    credential_id = _credential(client, team, "mine")
    stranger = a.owner_headers()
    # When the stranger reads their trail, and tries the team's
    own = client.request("GET", EVENTS, headers=stranger).json()["data"]
    foreign = client.request("GET", EVENTS, headers={**stranger, "X-Workspace-ID": team.workspace})
    # Then theirs holds nothing of the team's, and the team's is refused
    assert credential_id not in str(own)
    assert foreign.status == 403


def test_a_user_reads_their_own_security_events_and_only_theirs(
    client: InProcessClient, team: Team
) -> None:
    # Given a user who signed up, failed a login, then signed in
    email = a.new_email()
    signed_up = a.sign_up(email)
    assert a.log_in(email, "not-the-password-42", source_ip="127.0.0.7").status == 401
    token = a.tokens_for(email)["access_token"]
    mine = {"Authorization": f"Bearer {token}"}
    # When they read their security events
    reply = client.request("GET", "/api/v1/me/security-events", headers=mine)
    # Then they see exactly their own, newest first, in the audit event's shape
    assert reply.status == 200, reply.body
    events = reply.json()["data"]
    assert [event["action"] for event in events] == [
        "auth.login_succeeded",
        "auth.login_failed",
        "user.signed_up",
    ]
    assert {event["target"]["id"] for event in events} == {signed_up["user"]["id"]}
    assert events[1]["source_ip"] == "127.0.0.7"
    assert set(events[0]) == EVENT_FIELDS
    # And the filter narrows them; another user's events never appear
    failed = client.request(
        "GET", "/api/v1/me/security-events?action=auth.login_failed", headers=mine
    ).json()["data"]
    assert [event["action"] for event in failed] == ["auth.login_failed"]
    theirs = client.request("GET", "/api/v1/me/security-events", headers=team.owner).json()
    assert signed_up["user"]["id"] not in str(theirs)


def test_an_api_key_has_no_security_events_to_read(client: InProcessClient, team: Team) -> None:
    created = client.request(
        "POST",
        "/api/v1/api-keys",
        headers=team.owner,
        body={"name": "k", "scopes": ["agents:read"]},
    ).json()["data"]
    remember(created["key"])
    reply = client.request(
        "GET", "/api/v1/me/security-events", headers={"X-API-Key": created["key"]}
    )
    assert reply.status == 403
