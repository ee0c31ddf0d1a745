"""The audit trail screen (contract section 10): an owner's acts appear in it, a filter by action
narrows it, and the check of its hash chain says it holds."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.browser.pages import Dashboard
from tests.e2e.local_stack import StackProcess
from tests.e2e.people import PASSWORD, new_member, new_owner


def test_an_owners_acts_appear_in_the_verified_trail_and_a_filter_narrows_it(
    dashboard: Dashboard, stack: StackProcess
) -> None:
    # Given an owner who added a member over HTTP, signed in, and renames the workspace here
    owner = new_owner(stack)
    person = new_member(stack, owner, "user")
    page = dashboard.page
    dashboard.log_in(owner.email, PASSWORD)
    page.get_by_role("link", name="Workspace settings").click()
    settings = page.get_by_role("form", name="Change settings")
    settings.get_by_label("Name").fill("Audited workspace")
    settings.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name="Audited workspace")).to_be_visible()

    # When they open the audit trail
    page.get_by_role("link", name="Audit trail").click()

    # Then their acts are listed, newest first, and the chain is verified
    events = page.get_by_role("table", name="Audit events")
    actions = events.locator("td[data-label='Action'] > span > span:first-child")
    expect(actions).to_have_text(
        ["Workspace settings changed", "Member added", "Workspace created"]
    )
    expect(events.get_by_role("row").nth(2)).to_contain_text(person.email)
    expect(page.get_by_text("Verified: 3 events")).to_be_visible()
    dashboard.snap("audit")

    # When they filter by one action
    page.get_by_label("Action").select_option("member.added")
    page.get_by_role("button", name="Filter").click()

    # Then only that action's events are listed
    expect(actions).to_have_text(["Member added"])
    expect(page.get_by_role("button", name="Older")).to_be_disabled()
    dashboard.snap("audit-filtered")
