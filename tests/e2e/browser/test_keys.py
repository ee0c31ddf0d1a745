"""The API keys screen (contract section 6) in a browser: a refused setting shown beside its
field, a key shown once and working from the allowed address alone, its restrictions edited, a
rotation and a revocation that the API honours, an edit that starts from the key as it is now,
its usage chart and last use, and no keys screen for a `user` member."""

from __future__ import annotations

import re
from typing import Any

import requests
from playwright.sync_api import expect

from tests.e2e.browser.pages import Dashboard
from tests.e2e.browser.steps import eventually, saved_it, shown_key, signed_in_owner
from tests.e2e.local_stack import StackProcess
from tests.e2e.people import PASSWORD, create_key, me_status_from, new_member, new_owner


def keys_of(stack: StackProcess, headers: dict[str, str]) -> list[dict[str, Any]]:
    listed = requests.get(f"{stack.url}/api/v1/api-keys", headers=headers, timeout=10)
    assert listed.status_code == 200, listed.text
    keys: list[dict[str, Any]] = listed.json()["data"]
    return keys


def test_a_refused_setting_shows_beside_its_field_and_a_new_key_is_shown_once(
    dashboard: Dashboard, stack: StackProcess
) -> None:
    # Given an owner signed in, on the keys screen (the first screen an owner sees)
    owner = signed_in_owner(dashboard, stack)
    page = dashboard.page
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    expect(page.get_by_text("No API keys yet.")).to_be_visible()
    dashboard.snap("keys-empty")

    # When they ask for a key with a network that has host bits set
    page.get_by_role("button", name="Create key").click()
    page.get_by_label("Name", exact=True).fill("Billing service")
    page.get_by_label("agents:read").check()
    page.get_by_label("Allowed IP addresses (optional)").fill("127.0.0.1\n10.0.0.1/8")
    dashboard.snap("keys-create")
    page.locator("form").get_by_role("button", name="Create key").click()

    # Then the API's own words appear beside that field, and no key was made
    refused = requests.post(
        f"{stack.url}/api/v1/api-keys",
        headers=owner.headers,
        json={"name": "x", "scopes": ["agents:read"], "allowed_ips": ["127.0.0.1", "10.0.0.1/8"]},
        timeout=10,
    )
    assert refused.status_code == 400
    ips_error = page.locator("[data-field='allowed_ips'] .field-error")
    expect(ips_error).to_have_text(refused.json()["error"]["message"])
    expect(page.get_by_label("Allowed IP addresses (optional)")).to_have_attribute(
        "aria-invalid", "true"
    )
    dashboard.snap("keys-create-error")
    assert keys_of(stack, owner.headers) == []

    # When they fix it to 127.0.0.1 alone and create the key
    page.get_by_label("Allowed IP addresses (optional)").fill("127.0.0.1")
    page.locator("form").get_by_role("button", name="Create key").click()

    # Then the key is shown once, and its Copy button copies it
    expect(page.get_by_role("heading", name='New key "Billing service"')).to_be_visible()
    expect(page.get_by_text("Copy it now. You won't see it again.")).to_be_visible()
    key = shown_key(page)
    assert key.startswith("pr_live_")
    dashboard.snap("keys-secret")

    # And it works from 127.0.0.1 and is refused from 127.0.0.2
    assert me_status_from(stack, "127.0.0.1", {"X-API-Key": key}) == 200
    assert me_status_from(stack, "127.0.0.2", {"X-API-Key": key}) == 403

    # When they have saved it, it is gone from the page; the list shows its mask
    saved_it(page, key)
    (created,) = keys_of(stack, owner.headers)
    row = page.get_by_role("row").filter(has_text=created["masked_key"])
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("IPs: 127.0.0.1")
    dashboard.snap("keys-list")


def test_an_owner_edits_rotates_and_revokes_a_key(
    dashboard: Dashboard, stack: StackProcess
) -> None:
    # Given an owner signed in, with a key usable from 127.0.0.1
    owner = new_owner(stack)
    created = create_key(stack, owner.headers, "Billing service", allowed_ips=["127.0.0.1"])
    key = created["key"]
    page = dashboard.page
    dashboard.log_in(owner.email, PASSWORD)

    # When they move the key to 127.0.0.2, with an expiry and a limit (the requests alone first)
    which = f"key Billing service ({created['masked_key']})"
    page.get_by_role("button", name=f"Edit {which}").click()
    page.get_by_label("Allowed IP addresses (optional)").fill("127.0.0.2")
    page.get_by_label("credentials:read").check()
    page.get_by_label("Requests").fill("100")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("[data-field='rate_limit'] .field-error")).to_have_text(
        "Give both the number of requests and the window, or neither."
    )
    page.get_by_label("Per window of (seconds)").fill("60")
    page.get_by_label("Expires (optional)").fill("2030-01-02T03:04")
    expiry = page.evaluate("new Date('2030-01-02T03:04').toISOString().replace('.000Z', 'Z')")
    dashboard.snap("keys-edit")
    page.get_by_role("button", name="Save changes").click()

    # Then the API holds the new restrictions, and within 5 s the key follows them
    expect(page.get_by_text('Key "Billing service" saved.')).to_be_visible()
    (edited,) = keys_of(stack, owner.headers)
    assert (edited["allowed_ips"], sorted(edited["scopes"]), edited["rate_limit"]) == (
        ["127.0.0.2"],
        ["agents:read", "credentials:read"],
        {"requests": 100, "window_seconds": 60},
    )
    assert edited["expires_at"] == expiry
    assert eventually(lambda: me_status_from(stack, "127.0.0.1", {"X-API-Key": key}) == 403)
    assert me_status_from(stack, "127.0.0.2", {"X-API-Key": key}) == 200

    # When they empty the limit and the expiry, the key has neither
    page.get_by_role("button", name=f"Edit {which}").click()
    page.get_by_label("Requests").fill("")
    page.get_by_label("Per window of (seconds)").fill("")
    page.get_by_label("Expires (optional)").fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("button", name="Save changes")).to_have_count(0)
    (cleared,) = keys_of(stack, owner.headers)
    assert (cleared["rate_limit"], cleared["expires_at"]) == (None, None)

    # When they rotate it with no grace period
    page.get_by_role("button", name=f"Rotate {which}").click()
    page.get_by_label("Keep the old key working for").select_option("0")
    dashboard.snap("keys-rotate")
    page.get_by_role("button", name="Rotate key", exact=True).click()

    # Then a new key is shown once; it works, and the old one stops
    expect(page.get_by_role("heading", name='New key for "Billing service"')).to_be_visible()
    rotated = shown_key(page)
    assert rotated != key
    dashboard.snap("keys-rotated")
    saved_it(page, rotated)
    assert me_status_from(stack, "127.0.0.2", {"X-API-Key": rotated}) == 200
    assert eventually(lambda: me_status_from(stack, "127.0.0.2", {"X-API-Key": key}) == 401)

    # When they revoke the new key
    (new,) = [item for item in keys_of(stack, owner.headers) if item["id"] != created["id"]]
    page.get_by_role("button", name=f"Revoke key Billing service ({new['masked_key']})").click()
    expect(page.get_by_role("heading", name='Revoke key "Billing service"?')).to_be_visible()
    dashboard.snap("keys-revoke-confirm")
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()

    # Then it is refused within 5 s, and the list says revoked
    assert eventually(lambda: me_status_from(stack, "127.0.0.2", {"X-API-Key": rotated}) == 401)
    expect(page.get_by_role("row").filter(has_text=new["masked_key"])).to_contain_text("revoked")
    dashboard.snap("keys-revoked")


def test_an_edit_starts_from_the_key_as_it_is_now_not_as_its_row_was_drawn(
    dashboard: Dashboard, stack: StackProcess
) -> None:
    # Given the keys screen drawn with a key that has no limit
    owner = new_owner(stack)
    created = create_key(stack, owner.headers, "Billing service")
    page = dashboard.page
    dashboard.log_in(owner.email, PASSWORD)
    which = f"key Billing service ({created['masked_key']})"
    expect(page.get_by_role("button", name=f"Edit {which}")).to_be_visible()

    # And another admin then gives it a limit, which the drawn row does not show
    limited = requests.patch(
        f"{stack.url}/api/v1/api-keys/{created['id']}",
        headers=owner.headers,
        json={"rate_limit": {"requests": 30, "window_seconds": 60}},
        timeout=10,
    )
    assert limited.status_code == 200, limited.text

    # When the owner edits the key from that row and renames it
    page.get_by_role("button", name=f"Edit {which}").click()
    expect(page.get_by_label("Requests")).to_have_value("30")
    page.get_by_label("Name", exact=True).fill("Billing")
    page.get_by_role("button", name="Save changes").click()

    # Then the form started from the limit of now, and saving the name kept it
    expect(page.get_by_text('Key "Billing" saved.')).to_be_visible()
    (edited,) = keys_of(stack, owner.headers)
    assert (edited["name"], edited["rate_limit"]) == (
        "Billing",
        {"requests": 30, "window_seconds": 60},
    )


def test_a_keys_usage_shows_as_a_chart_with_its_last_use(
    dashboard: Dashboard, stack: StackProcess
) -> None:
    # Given a key that made three requests from 127.0.0.2 with its own client name
    owner = new_owner(stack)
    created = create_key(stack, owner.headers, "Billing service")
    client = {"X-API-Key": created["key"], "User-Agent": "billing-sync/2.1"}
    for _ in range(3):
        assert me_status_from(stack, "127.0.0.2", client) == 200

    # When the owner opens its usage
    page = dashboard.page
    dashboard.log_in(owner.email, PASSWORD)
    which = f"key Billing service ({created['masked_key']})"
    page.get_by_role("button", name=f"Usage of {which}").click()

    # Then the panel shows the last day's three requests, as a chart and as figures
    panel = page.get_by_role("region", name='Usage of key "Billing service"')
    expect(panel.get_by_text("3 requests in this period.")).to_be_visible()
    expect(panel.get_by_role("img", name='Usage of key "Billing service"')).to_be_visible()
    expect(panel.locator("rect.bar-allowed")).to_have_count(1)
    panel.get_by_text("Show the figures").click()
    allowed = panel.locator("td[data-label='Allowed']")
    expect(allowed.filter(has_text=re.compile(r"^3$"))).to_have_count(1)
    expect(allowed.filter(has_text=re.compile(r"^0$"))).to_have_count(
        24
    )  # 25 hours touched by the last 24
    # And the last use: its address and client
    expect(panel.get_by_text("127.0.0.2", exact=True)).to_be_visible()
    expect(panel.get_by_text("billing-sync/2.1", exact=True)).to_be_visible()
    dashboard.snap("keys-usage")

    # When they choose the last 7 days, by day
    page.get_by_label("Period").select_option(label="Last 7 days, by day")

    # Then the same three requests show, in one day's bar
    expect(panel.get_by_text("3 requests in this period.")).to_be_visible()
    expect(panel.locator("rect.bar-allowed")).to_have_count(1)


def test_a_user_member_is_not_offered_keys_and_reads_resources_only(
    dashboard: Dashboard, stack: StackProcess
) -> None:
    # Given a workspace with a credential, and a member with the role `user`
    owner = new_owner(stack)
    member = new_member(stack, owner, "user")
    stored = requests.post(
        f"{stack.url}/api/v1/credentials",
        headers=owner.headers,
        json={
            "name": "Model provider",
            "type": "openai",
            "value": "sk-proj-only-owners-typed-this",
        },
        timeout=10,
    )
    assert stored.status_code == 201, stored.text

    # When the member signs in and chooses that workspace
    page = dashboard.page
    dashboard.log_in(member.email, PASSWORD)
    page.get_by_role("combobox", name="Workspace").select_option(owner.workspace)

    # Then the navigation offers no keys, and the address of the keys screen leads elsewhere
    sections = page.get_by_role("navigation", name="Workspace")
    expect(sections.get_by_role("link", name="Credentials")).to_be_visible()
    expect(sections.get_by_role("link", name="API keys")).to_have_count(0)
    page.evaluate("location.hash = '#/keys'")
    expect(page.get_by_role("heading", name="Credentials", level=1)).to_be_visible()

    # And the credentials are listed masked, with nothing to change them
    expect(page.get_by_role("row").filter(has_text="Model provider")).to_contain_text("sk-p...this")
    assert "sk-proj-only-owners-typed-this" not in page.content()
    expect(page.get_by_role("button", name="Add credential")).to_have_count(0)
    expect(page.get_by_role("button", name="Edit credential Model provider")).to_have_count(0)
    dashboard.snap("credentials-read-only")
