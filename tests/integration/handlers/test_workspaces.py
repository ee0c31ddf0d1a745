"""Contract section 5's rules beyond the matrix: what each role may do to whom, ownership
transfer, soft delete, lists, mass assignment, and a member's last use."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from railguard.authorizer.decision import STATE_MAX_AGE_SECONDS
from railguard.core.clock import SystemClock, rfc3339
from railguard.core.errors import Conflict
from railguard.store import Table
from railguard.store import keys as item_keys
from railguard.workspaces import Workspaces, WorkspaceScope
from railguard.workspaces.repository import member_key
from tests.support import accounts as a
from tests.support.audit import RecordingAuditTrail
from tests.support.aws_calls import record_whole_aws_calls
from tests.support.fake_time import FakeClock
from tests.support.faults import Call
from tests.support.inprocess import InProcessClient, Reply
from tests.support.races import at_once

# A table per test: moto's transactions slow down with the size of the table.
pytestmark = pytest.mark.table_per_test


@dataclass
class Team:
    workspace: str
    ids: dict[str, str]
    emails: dict[str, str]
    tokens: dict[str, str]


@pytest.fixture
def team(client: InProcessClient, cheap_passwords: None) -> Team:
    """A workspace with an owner, two admins and two users; and a stranger with no workspace
    in common. (Cheap password hashing: roles are what is tested here.)"""
    names = ("owner", "admin", "admin2", "user", "user2", "stranger")
    people = {name: a.new_account() for name in names}
    for name, role in (
        ("admin", "admin"),
        ("admin2", "admin"),
        ("user", "user"),
        ("user2", "user"),
    ):
        a.add_member(client, people["owner"], people[name], role)
    return Team(
        people["owner"].workspace,
        {name: person.user_id for name, person in people.items()},
        {name: person.email for name, person in people.items()},
        {name: person.token for name, person in people.items()},
    )


def _call(
    client: InProcessClient,
    team: Team,
    caller: str,
    method: str,
    suffix: str = "",
    *,
    body: object = None,
) -> Reply:
    return client.request(
        method, f"/api/v1/workspaces/{team.workspace}{suffix}", token=team.tokens[caller], body=body
    )


def _add(client: InProcessClient, team: Team, caller: str, email: str, role: str) -> Reply:
    """`caller` adding the account of `email` to the team's workspace with `role`."""
    return _call(client, team, caller, "POST", "/members", body={"email": email, "role": role})


def _roles(client: InProcessClient, team: Team) -> dict[str, str]:
    members = _call(client, team, "owner", "GET", "/members").json()["data"]
    return {member["user_id"]: member["role"] for member in members}


# -- what an admin may not do -------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "suffix_of", "body"),
    [
        ("POST", lambda t: "/members", lambda t: {"email": t.emails["stranger"], "role": "admin"}),
        ("PATCH", lambda t: f"/members/{t.ids['user']}", lambda t: {"role": "admin"}),
        ("PATCH", lambda t: f"/members/{t.ids['admin2']}", lambda t: {"role": "user"}),
        ("PATCH", lambda t: f"/members/{t.ids['owner']}", lambda t: {"role": "user"}),
        ("DELETE", lambda t: f"/members/{t.ids['owner']}", lambda t: None),
        ("DELETE", lambda t: f"/members/{t.ids['admin2']}", lambda t: None),
        ("DELETE", lambda t: "", lambda t: None),
        ("POST", lambda t: "/transfer-ownership", lambda t: {"user_id": t.ids["admin"]}),
    ],
    ids=[
        "add-admin",
        "promote-to-admin",
        "demote-admin",
        "demote-owner",
        "remove-owner",
        "remove-admin",
        "delete-workspace",
        "transfer",
    ],
)
def test_an_admin_cannot(
    client: InProcessClient, team: Team, method: str, suffix_of: object, body: object
) -> None:
    reply = _call(client, team, "admin", method, suffix_of(team), body=body(team))  # type: ignore[operator]
    assert reply.status == 403, reply.body
    assert _roles(client, team)[team.ids["owner"]] == "owner"


def test_an_admin_can_add_promote_nothing_but_users(client: InProcessClient, team: Team) -> None:
    added = _add(client, team, "admin", team.emails["stranger"], "user")
    assert added.status == 201
    assert added.json()["data"]["role"] == "user"
    removed = _call(client, team, "admin", "DELETE", f"/members/{team.ids['user']}")
    assert removed.status == 204
    assert team.ids["user"] not in _roles(client, team)


@pytest.mark.parametrize(
    ("method", "suffix_of", "body"),
    [
        ("POST", lambda t: "/members", lambda t: {"email": t.emails["stranger"], "role": "user"}),
        ("PATCH", lambda t: f"/members/{t.ids['user2']}", lambda t: {"role": "user"}),
        ("DELETE", lambda t: f"/members/{t.ids['user2']}", lambda t: None),
        ("PATCH", lambda t: "", lambda t: {"name": "Mine now"}),
        ("DELETE", lambda t: "", lambda t: None),
        ("POST", lambda t: "/transfer-ownership", lambda t: {"user_id": t.ids["user"]}),
    ],
    ids=["add", "change-role", "remove-other", "rename", "delete", "transfer"],
)
def test_a_user_manages_nothing(
    client: InProcessClient, team: Team, method: str, suffix_of: object, body: object
) -> None:
    reply = _call(client, team, "user", method, suffix_of(team), body=body(team))  # type: ignore[operator]
    assert reply.status == 403, reply.body


def test_a_user_can_read_and_leave(client: InProcessClient, team: Team) -> None:
    assert _call(client, team, "user", "GET").status == 200
    assert _call(client, team, "user", "GET", "/members").status == 200
    assert _call(client, team, "user", "DELETE", f"/members/{team.ids['user']}").status == 204
    a.reset_instances()  # a fresh authorizer: no cached membership
    assert _call(client, team, "user", "GET").status == 404


def test_the_owner_cannot_leave_or_be_removed(client: InProcessClient, team: Team) -> None:
    reply = _call(client, team, "owner", "DELETE", f"/members/{team.ids['owner']}")
    assert reply.status == 403
    assert _roles(client, team)[team.ids["owner"]] == "owner"


def test_the_owner_promotes_and_demotes_below_itself_only(
    client: InProcessClient, team: Team
) -> None:
    promoted = _call(
        client, team, "owner", "PATCH", f"/members/{team.ids['user']}", body={"role": "admin"}
    )
    assert (promoted.status, promoted.json()["data"]["role"]) == (200, "admin")
    to_owner = _call(
        client, team, "owner", "PATCH", f"/members/{team.ids['user']}", body={"role": "owner"}
    )
    assert to_owner.status == 400  # not an assignable role: ownership moves only by transfer


def test_adding_an_unknown_email_is_404_and_a_member_twice_is_409(
    client: InProcessClient, team: Team
) -> None:
    unknown = _add(client, team, "owner", "nobody-here@example.com", "user")
    assert unknown.status == 404
    again = _add(client, team, "owner", team.emails["user"], "user")
    assert again.status == 409


def test_a_member_of_another_workspace_is_not_found_by_user_id(
    client: InProcessClient, team: Team
) -> None:
    # The stranger exists, but not in this workspace: as good as no such id
    reply = _call(
        client, team, "owner", "PATCH", f"/members/{team.ids['stranger']}", body={"role": "user"}
    )
    assert reply.status == 404


# -- transfer --------------------------------------------------------------------------------
def test_transfer_makes_the_member_owner_and_the_old_owner_admin(
    client: InProcessClient, team: Team
) -> None:
    reply = _call(
        client, team, "owner", "POST", "/transfer-ownership", body={"user_id": team.ids["user"]}
    )
    assert reply.status == 204
    roles = _roles(client, team)
    assert roles[team.ids["user"]] == "owner"
    assert roles[team.ids["owner"]] == "admin"
    assert list(roles.values()).count("owner") == 1


def test_transfer_to_a_non_member_is_404(client: InProcessClient, team: Team) -> None:
    reply = _call(
        client, team, "owner", "POST", "/transfer-ownership", body={"user_id": team.ids["stranger"]}
    )
    assert reply.status == 404
    assert _roles(client, team)[team.ids["owner"]] == "owner"


def test_concurrent_transfers_leave_exactly_one_owner(team: Team, table: Table) -> None:
    # Given the owner sending ownership to four members at the same moment
    audit = RecordingAuditTrail(table)
    workspaces = Workspaces(table, SystemClock(), audit)
    scope = WorkspaceScope(team.workspace, team.ids["owner"], "owner")
    targets = [team.ids[name] for name in ("admin", "admin2", "user", "user2")]
    # When each transfer is asked for at once
    outcomes = at_once(
        lambda user_id: workspaces.transfer_ownership(scope, user_id),
        targets,
        ("done", "conflict"),
        Conflict,
    )
    # Then exactly one happened, and the workspace has exactly one owner: that one
    assert outcomes.count("done") == 1
    winner = targets[outcomes.index("done")]
    members = table.query(item_keys.workspace(team.workspace)[0], sk_prefix="MEMBER#").items
    owners = [item["sk"].removeprefix("MEMBER#") for item in members if item["role"] == "owner"]
    assert owners == [winner]
    workspace = table.get(item_keys.workspace(team.workspace))
    assert workspace is not None
    assert workspace["owner_id"] == winner
    # And only the transfer that happened was recorded
    assert [(event.action, event.details["new_owner_id"]) for event in audit.events] == [
        ("workspace.ownership_transferred", winner)
    ]


# -- workspaces ------------------------------------------------------------------------------
def test_a_deleted_workspace_stops_at_once_and_is_kept(
    client: InProcessClient, team: Team, table: Table
) -> None:
    assert _call(client, team, "owner", "DELETE").status == 204
    a.reset_instances()
    for name in ("owner", "admin", "user"):
        assert _call(client, team, name, "GET").status == 404
    listed = client.request("GET", "/api/v1/workspaces", token=team.tokens["owner"])
    assert team.workspace not in {item["id"] for item in listed.json()["data"]}
    kept = table.get(item_keys.workspace(team.workspace))
    assert kept is not None
    assert kept["status"] == "deleted"


def test_requiring_mfa_is_refused_to_a_manager_without_mfa(
    client: InProcessClient, team: Team
) -> None:
    # Given an owner who has not turned MFA on
    # When they require it of the workspace
    reply = _call(client, team, "owner", "PATCH", "", body={"require_mfa": True, "name": "X"})
    # Then 403 mfa_required (it would lock them out), and nothing changed
    assert reply.status == 403
    assert reply.json()["error"]["code"] == "mfa_required"
    workspace = _call(client, team, "owner", "GET").json()["data"]
    assert (workspace["require_mfa"], workspace["name"]) == (False, "Test User's workspace")


@pytest.mark.parametrize("field", ["workspace_id", "owner_id", "role", "created_by", "plan"])
def test_mass_assignment_is_refused(client: InProcessClient, team: Team, field: str) -> None:
    created = client.request(
        "POST", "/api/v1/workspaces", token=team.tokens["user"], body={"name": "Mine", field: "x"}
    )
    renamed = _call(client, team, "owner", "PATCH", "", body={"name": "New", field: "x"})
    assert (created.status, renamed.status) == (400, 400)


def test_the_workspace_list_pages_with_a_cursor(client: InProcessClient, team: Team) -> None:
    for number in range(3):
        client.request(
            "POST", "/api/v1/workspaces", token=team.tokens["stranger"], body={"name": f"W{number}"}
        )
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        reply = client.request(
            "GET", f"/api/v1/workspaces?limit=2{cursor}", token=team.tokens["stranger"]
        )
        page = reply.json()
        seen += [item["name"] for item in page["data"]]
        if page["meta"]["next_cursor"] is None:
            break
        cursor = f"&cursor={page['meta']['next_cursor']}"
    assert sorted(seen) == ["Test User's workspace", "W0", "W1", "W2"]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "cursor=%21%21"])
def test_bad_list_parameters_are_400(client: InProcessClient, team: Team, query: str) -> None:
    reply = client.request("GET", f"/api/v1/workspaces?{query}", token=team.tokens["owner"])
    assert reply.status == 400


@pytest.mark.parametrize(
    "name",
    [
        "Payroll\u202e\u2066moc.elpmaxe\u2069",  # right-to-left override: shows another name
        "Alice\u200f (alice@corp.example)",  # right-to-left mark
        "Two\nlines",
        "Bell\x07",
    ],
)
def test_a_name_that_would_show_other_than_it_says_is_refused(
    client: InProcessClient, team: Team, name: str
) -> None:
    # When a workspace is created, or renamed, with a name holding a control or a bidi override
    created = client.request(
        "POST", "/api/v1/workspaces", token=team.tokens["user"], body={"name": name}
    )
    renamed = _call(client, team, "owner", "PATCH", "", body={"name": name})
    # Then both are 400, naming the field
    for reply in (created, renamed):
        assert reply.status == 400
        error = reply.json()["error"]
        assert [field["field"] for field in error["details"]["fields"]] == ["body.name"]


def test_a_name_in_any_script_or_with_emoji_is_kept(client: InProcessClient, team: Team) -> None:
    # When a workspace is named in Arabic, with an emoji sequence joined by ZWJ
    name = "فريق المنصة 👩\u200d💻"
    created = client.request(
        "POST", "/api/v1/workspaces", token=team.tokens["user"], body={"name": name}
    )
    # Then it is kept as given
    assert created.status == 201
    assert created.json()["data"]["name"] == name


# -- a member's last use (issue 21, "Usage") -------------------------------------------------
def _member_writes(calls: list[Call], workspace_id: str) -> list[Call]:
    """The writes among `calls` to an item of the workspace's members."""
    return [
        call
        for call in calls
        if call.operation in ("UpdateItem", "PutItem")
        and call.params.get("Key", {}).get("pk", {}).get("S")
        == item_keys.workspace(workspace_id)[0]
        and call.params["Key"]["sk"]["S"].startswith("MEMBER#")
    ]


def _last_use(client: InProcessClient, owner: a.Account, user_id: str) -> tuple[str | None, ...]:
    """The member's last use as the owner's members list shows it."""
    listed = client.request(
        "GET", f"/api/v1/workspaces/{owner.workspace}/members?limit=100", headers=owner.headers()
    )
    assert listed.status == 200, listed.body
    (member,) = [m for m in listed.json()["data"] if m["user_id"] == user_id]
    return member["last_used_at"], member["last_used_ip"], member["last_used_user_agent"]


def test_a_members_last_use_is_noted_once_a_minute_with_address_and_user_agent(
    client: InProcessClient,
    table: Table,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an admin of a workspace who has not used it since being added
    owner, admin = a.new_account(), a.new_account()
    a.add_member(client, owner, admin, "admin")
    assert _last_use(client, owner, admin.user_id) == (None, None, None)
    calls = record_whole_aws_calls(monkeypatch)
    # When they read its audit trail (a function that writes nothing else in a workspace's
    # partition) from 10.9.8.7 with an overlong user agent
    used_at = int(clock.now())
    agent = "probe/2.0 " + "x" * 400
    reply = client.request(
        "GET",
        "/api/v1/audit-events",
        headers=admin.headers(owner.workspace, **{"User-Agent": agent}),
        source_ip="10.9.8.7",
    )
    assert reply.status == 200, reply.body
    # Then their membership notes the use, by one write naming only its three attributes
    (write,) = _member_writes(calls, owner.workspace)
    assert write.params["Key"]["sk"]["S"] == f"MEMBER#{admin.user_id}"
    assert write.params.get("ReturnValues", "NONE") == "NONE"
    assert "attribute_exists(pk)" in write.params["ConditionExpression"]
    # And the members list shows the time, the TCP peer and the user agent (cut to 256)
    assert _last_use(client, owner, admin.user_id) == (rfc3339(used_at), "10.9.8.7", agent[:256])
    # When they use it again within the minute, from the cache and after it aged, elsewhere
    calls.clear()
    workspace = f"/api/v1/workspaces/{owner.workspace}"
    clock.advance(1)
    in_workspace = admin.headers(owner.workspace)
    assert client.request("GET", workspace, headers=in_workspace).status == 200
    clock.advance(STATE_MAX_AGE_SECONDS + 0.1)
    members = client.request("GET", f"{workspace}/members", headers=in_workspace)
    assert members.status == 200
    # Then nothing is written to their membership, and the first use stays the last noted
    assert _member_writes(calls, owner.workspace) == []
    assert _last_use(client, owner, admin.user_id) == (rfc3339(used_at), "10.9.8.7", agent[:256])
    # When they use it a minute after the first, without a user agent / Then that use is noted
    clock.advance(60)
    assert client.request("GET", workspace, headers=in_workspace).status == 200
    now = rfc3339(int(clock.now()))
    assert _last_use(client, owner, admin.user_id) == (now, "127.0.0.1", None)


def test_where_members_last_came_from_is_shown_to_managers_and_to_each_member_alone(
    client: InProcessClient,
) -> None:
    # Given the owner's use of a workspace (adding a member, from 127.0.0.1) and the user
    # member's, from 10.2.2.2
    owner, member = a.new_account(), a.new_account()
    a.add_member(client, owner, member, "user")
    workspace = f"/api/v1/workspaces/{owner.workspace}"
    headers = member.headers(owner.workspace)
    reply = client.request("GET", workspace, headers=headers, source_ip="10.2.2.2")
    assert reply.status == 200, reply.body
    # When the user member lists the members
    listed = client.request("GET", f"{workspace}/members", headers=member.headers(owner.workspace))
    seen = {
        m["user_id"]: (m["last_used_ip"], m["last_used_at"] is not None)
        for m in listed.json()["data"]
    }
    # Then they see when the owner last came, not from where; and where they came from
    assert seen[owner.user_id] == (None, True)
    assert seen[member.user_id] == ("10.2.2.2", True)
    # And the owner sees both addresses
    assert _last_use(client, owner, member.user_id)[1] == "10.2.2.2"
    assert _last_use(client, owner, owner.user_id)[1] == "127.0.0.1"


def test_a_membership_item_without_a_role_is_no_membership(
    client: InProcessClient, team: Team, table: Table
) -> None:
    # Given an item where a stranger's membership would be, holding a last use alone (what the
    # narrow last-use grant could write, though the code never makes one)
    stray = member_key(team.workspace, team.ids["stranger"])
    table.update(stray, "SET last_used_at = :at", values={":at": 1})
    # When the stranger calls the workspace
    reply = _call(client, team, "stranger", "GET")
    # Then they are no member of it: the answer for any workspace not theirs, never a failure
    assert reply.status == 404


def test_a_user_outside_any_workspace_notes_no_members_use(
    client: InProcessClient, team: Team, table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a member, and a stranger to the team's workspace
    calls = record_whole_aws_calls(monkeypatch)
    # When the member calls routes that act in no workspace, and the stranger the workspace's
    me = client.request("GET", "/api/v1/me", token=team.tokens["user"])
    mine = client.request("GET", "/api/v1/workspaces", token=team.tokens["user"])
    stranger = _call(client, team, "stranger", "GET")
    # Then those are answered (the stranger's as no such workspace), and no membership is written
    assert (me.status, mine.status, stranger.status) == (200, 200, 404)
    assert not [
        call
        for call in calls
        if call.operation in ("UpdateItem", "PutItem")
        and call.params.get("Key", {}).get("sk", {}).get("S", "").startswith("MEMBER#")
    ]
    membership = table.get(member_key(team.workspace, team.ids["user"]))
    assert membership is not None
    assert "last_used_at" not in membership
    stored = table.get(member_key(team.workspace, team.ids["stranger"]))
    assert stored is None
