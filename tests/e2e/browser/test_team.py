"""The team screens (contract section 5): an owner adds a person by email and changes their role,
the person sees only what their role may do, the owner renames the workspace and requires MFA,
a member without it is told where to turn it on, and ownership changes hands."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import requests
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.browser.pages import Dashboard
from tests.e2e.browser.steps import add_member
from tests.e2e.local_stack import StackProcess
from tests.e2e.people import PASSWORD, Owner, new_owner

ENFORCEMENT_BOUND_SECONDS = 5.0


def _turn_on_mfa(stack: StackProcess, owner: Owner) -> pyotp.TOTP:
    """MFA on over HTTP, enabled with the previous step's code (the next ones stay free)."""
    me = f"{stack.url}/api/v1/me/mfa/totp"
    setup = requests.post(f"{me}/setup", headers=owner.headers, timeout=10)
    assert setup.status_code == 200
    authenticator = pyotp.TOTP(setup.json()["data"]["secret"])
    enabled = requests.post(
        f"{me}/enable",
        headers=owner.headers,
        json={"code": authenticator.at(time.time() - 30), "password": PASSWORD},
        timeout=10,
    )
    assert enabled.status_code == 200
    return authenticator


def _members(stack: StackProcess, owner: Owner) -> dict[str, str]:
    """Email -> role, as the API holds them."""
    reply = requests.get(
        f"{stack.url}/api/v1/workspaces/{owner.workspace}/members",
        headers=owner.headers,
        timeout=10,
    )
    assert reply.status_code == 200
    return {member["email"]: member["role"] for member in reply.json()["data"]}


def _workspace(stack: StackProcess, owner: Owner) -> dict[str, Any]:
    reply = requests.get(
        f"{stack.url}/api/v1/workspaces/{owner.workspace}", headers=owner.headers, timeout=10
    )
    assert reply.status_code == 200
    data: dict[str, Any] = reply.json()["data"]
    return data


def _row(page: Page, email: str) -> Locator:
    return page.get_by_role("row").filter(has_text=email)


def _change_role(page: Page, email: str, role: str) -> None:
    _row(page, email).get_by_label(f"Role of {email}", exact=True).select_option(role)
    page.get_by_role("button", name=f"Change role of {email}").click()


def _rename_and_require_mfa(page: Page, name: str) -> None:
    settings = page.get_by_role("form", name="Change settings")
    settings.get_by_label("Name").fill(name)
    settings.get_by_label("Require two-factor authentication").check()
    settings.get_by_role("button", name="Save changes").click()


def _sees_only_what_a_user_may(person: Dashboard, owner: Owner) -> None:
    page = person.page
    expect(_row(page, owner.email)).to_be_visible()
    expect(page.get_by_role("button", name="Add member")).to_have_count(0)
    expect(page.get_by_role("link", name="Audit trail")).to_have_count(0)
    expect(page.get_by_role("button", name="Leave workspace")).to_be_visible()
    person.snap("members-as-user")
    page.get_by_role("link", name="Workspace settings").click()
    expect(page.get_by_role("heading", name="Create a workspace")).to_be_visible()
    expect(page.get_by_role("button", name="Save changes")).to_have_count(0)
    person.snap("settings-as-user")


def _refused_until_mfa(person: Dashboard) -> None:
    """The person's screens, until the workspace's refusal reaches them (within five seconds)."""
    page = person.page
    refused = page.get_by_text("This workspace requires two-factor authentication")
    deadline = time.monotonic() + ENFORCEMENT_BOUND_SECONDS + 1
    while True:
        page.get_by_role("link", name="Workspace settings").click()
        page.get_by_role("link", name="Members").click()
        try:
            refused.wait_for(timeout=1000)
        except PlaywrightTimeoutError:
            if time.monotonic() > deadline:
                raise
        else:
            return


def test_an_owner_builds_a_team_and_each_member_sees_what_their_role_may_do(
    dashboard: Dashboard, another_dashboard: Dashboard, stack: StackProcess
) -> None:
    # Given an owner with MFA on, signed in, and another person with an account
    owner = new_owner(stack)
    person = new_owner(stack)
    authenticator = _turn_on_mfa(stack, owner)
    page = dashboard.page
    dashboard.log_in(owner.email, PASSWORD, authenticator.now())

    # When the owner adds the person as a user, by email
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    dashboard.snap("members")
    add_member(page, person.email, "user")

    # Then they are listed as a user, and the API holds it
    expect(_row(page, person.email).get_by_role("cell", name="user", exact=True)).to_be_visible()
    assert _members(stack, owner)[person.email] == "user"

    # When the person logs in, in a browser of their own, and opens the owner's workspace
    theirs = another_dashboard
    theirs.log_in(person.email, PASSWORD)
    theirs.page.get_by_role("combobox", name="Workspace").select_option(owner.workspace)
    theirs.page.get_by_role("link", name="Members").click()

    # Then they see the team, but no way to add anyone, no audit trail, and may leave
    _sees_only_what_a_user_may(theirs, owner)

    # When the owner makes them an admin
    _change_role(page, person.email, "admin")

    # Then the list and the API say admin
    expect(_row(page, person.email).get_by_role("cell", name="admin", exact=True)).to_be_visible()
    assert _members(stack, owner)[person.email] == "admin"

    # When the owner renames the workspace and requires MFA
    page.get_by_role("link", name="Workspace settings").click()
    expect(page.get_by_role("heading", name="Change settings")).to_be_visible()
    dashboard.snap("settings")
    _rename_and_require_mfa(page, "Platform team")

    # Then the settings say so, and so does the API
    expect(page.get_by_role("heading", name="Platform team")).to_be_visible()
    expect(page.get_by_text("Required of every member")).to_be_visible()
    dashboard.snap("settings-saved")
    workspace = _workspace(stack, owner)
    assert (workspace["name"], workspace["require_mfa"]) == ("Platform team", True)

    # And the person, without MFA, is told plainly where to turn it on
    _refused_until_mfa(theirs)
    link = theirs.page.get_by_role("link", name="Turn on two-factor authentication")
    expect(link).to_have_attribute("href", "#/account")
    theirs.snap("members-mfa-required")

    # When the owner hands ownership to the person, and confirms
    page.get_by_role("link", name="Members").click()
    page.get_by_label("New owner").select_option(label=f"E2E ({person.email})")
    page.get_by_role("button", name="Transfer ownership").click()
    dashboard.snap("members-transfer-confirm")
    page.get_by_role("dialog").get_by_role("button", name="Transfer ownership").click()

    # Then the person is the owner, and the old owner an admin who can no longer transfer it
    expect(_row(page, person.email).get_by_role("cell", name="owner", exact=True)).to_be_visible()
    expect(_row(page, owner.email).get_by_role("cell", name="admin", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Transfer ownership")).to_have_count(0)
    roles = _members(stack, owner)
    assert (roles[person.email], roles[owner.email]) == ("owner", "admin")
    dashboard.snap("members-after-transfer")
