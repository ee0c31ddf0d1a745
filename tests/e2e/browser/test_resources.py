"""The credentials, webhook triggers and agent UIs screens (contract sections 7-9) in a browser:
each walked by an owner from creation to deletion, with what was shown once shown once, what is
secret never shown, and each change checked against what the API then does."""

from __future__ import annotations

import time
from typing import Any

import requests
from playwright.sync_api import Locator, Page, expect

from railguard.webhooks import signature
from tests.e2e.browser.pages import Dashboard
from tests.e2e.browser.steps import go_to, signed_in_owner
from tests.e2e.local_stack import StackProcess
from tests.e2e.people import Owner

TYPED_VALUE = "sk-proj-Aq7Xk2mW9pLr4TnV8bYc3ZqsA"
REPLACED_VALUE = "sk-proj-Replaced7Kd2Jf8Hs5Lq1Wx"


def signed_in_at(dashboard: Dashboard, stack: StackProcess, screen: str) -> tuple[Owner, Page]:
    owner = signed_in_owner(dashboard, stack)
    go_to(dashboard.page, screen)
    return owner, dashboard.page


def listed(stack: StackProcess, owner: Owner, path: str) -> list[dict[str, Any]]:
    reply = requests.get(f"{stack.url}/api/v1/{path}", headers=owner.headers, timeout=10)
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["data"]
    return items


def confirm(dashboard: Dashboard, question: str, button: str, snap: str | None = None) -> None:
    dialog = dashboard.page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=question)).to_be_visible()
    if snap:
        dashboard.snap(snap)
    dialog.get_by_role("button", name=button).click()


def is_masked(field: Locator) -> bool:
    """Typed characters show as dots, and no password manager takes it for a login field."""
    masking = field.evaluate("(input) => getComputedStyle(input).webkitTextSecurity")
    return masking == "disc" and field.get_attribute("type") == "text"


def nowhere_in_page(page: Page, secret: str) -> bool:
    """Neither in the page's markup nor in any of its controls' values."""
    values: list[str] = page.evaluate(
        "() => [...document.querySelectorAll('input, textarea')].map((control) => control.value)"
    )
    return secret not in page.content() and all(secret not in value for value in values)


def test_an_owner_manages_credentials_that_are_only_ever_shown_masked(
    dashboard: Dashboard, stack: StackProcess
) -> None:
    # Given an owner on the empty credentials screen
    owner, page = signed_in_at(dashboard, stack, "Credentials")
    expect(page.get_by_text("No credentials yet.")).to_be_visible()
    dashboard.snap("credentials-empty")

    # When they add one, typing its value into a password field
    page.get_by_role("button", name="Add credential").click()
    page.get_by_label("Name", exact=True).fill("OpenAI production")
    page.get_by_label("Type", exact=True).fill("openai")
    page.get_by_label("Category (optional)").fill("llm")
    value = page.get_by_label("Value", exact=True)
    assert is_masked(value)
    value.fill(TYPED_VALUE)
    page.get_by_label("Description (optional)").fill("Main model key")
    dashboard.snap("credentials-create")
    page.locator("form").get_by_role("button", name="Add credential").click()

    # Then the list shows its mask, and the typed value is nowhere in the page
    row = page.get_by_role("row").filter(has_text="OpenAI production")
    expect(row).to_contain_text("sk-p...ZqsA")
    assert nowhere_in_page(page, TYPED_VALUE)
    dashboard.snap("credentials-list")

    # When they rename it, replace its value and make it the default
    backup = requests.post(
        f"{stack.url}/api/v1/credentials",
        headers=owner.headers,
        json={"name": "OpenAI backup", "type": "openai", "value": "sk-backup-0123456789"},
        timeout=10,
    )
    assert backup.status_code == 201, backup.text
    page.get_by_role("button", name="Edit credential OpenAI production").click()
    page.get_by_label("Name", exact=True).fill("OpenAI prod")
    page.get_by_label("Replace the value (optional)").fill(REPLACED_VALUE)
    page.get_by_label("Use it as the default for openai").check()
    dashboard.snap("credentials-edit")
    page.get_by_role("button", name="Save changes").click()

    # Then the API holds the change, and the new value too is shown masked only
    expect(page.get_by_text('Credential "OpenAI prod" saved.')).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="OpenAI prod")).to_contain_text("sk-p...q1Wx")
    assert nowhere_in_page(page, REPLACED_VALUE)
    defaults = {item["name"]: item["is_default"] for item in listed(stack, owner, "credentials")}
    assert defaults == {"OpenAI prod": True, "OpenAI backup": False}

    # When they make the other one the default
    page.get_by_role("button", name="Make OpenAI backup the default for openai").click()

    # Then it is the type's only default
    expect(page.get_by_text('"OpenAI backup" is now the default for openai.')).to_be_visible()
    defaults = {item["name"]: item["is_default"] for item in listed(stack, owner, "credentials")}
    assert defaults == {"OpenAI prod": False, "OpenAI backup": True}

    # When they delete it, after confirming
    page.get_by_role("button", name="Delete credential OpenAI backup").click()
    confirm(
        dashboard,
        'Delete credential "OpenAI backup"?',
        "Delete credential",
        "credentials-delete-confirm",
    )

    # Then it leaves the list, and shows among the deleted ones
    expect(page.get_by_role("row").filter(has_text="OpenAI backup")).to_have_count(0)
    assert [item["name"] for item in listed(stack, owner, "credentials")] == ["OpenAI prod"]
    page.get_by_label("Show deleted").check()
    deleted = page.get_by_role("region", name="Deleted credentials")
    expect(deleted.get_by_role("row").filter(has_text="OpenAI backup")).to_be_visible()
    dashboard.snap("credentials-deleted")

    # When they restore it, it is back
    deleted.get_by_role("button", name="Restore credential OpenAI backup").click()
    expect(deleted.get_by_text("No deleted credentials.")).to_be_visible()
    names = sorted(item["name"] for item in listed(stack, owner, "credentials"))
    assert names == ["OpenAI backup", "OpenAI prod"]
    dashboard.snap("credentials-restored")


def call_trigger(stack: StackProcess, token: str, secret: str | None) -> int:
    raw = b'{"order": 42}'
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if secret:
        timestamp = str(int(time.time()))
        headers |= {
            "X-Webhook-Timestamp": timestamp,
            "X-Webhook-Signature": signature(secret, timestamp, raw),
        }
    reply = requests.post(
        f"{stack.url}/api/v1/webhook/trigger", data=raw, headers=headers, timeout=10
    )
    return reply.status_code


def test_an_owner_creates_pauses_rotates_and_deletes_a_webhook_trigger(
    dashboard: Dashboard, stack: StackProcess
) -> None:
    # Given an owner on the empty webhook triggers screen
    _, page = signed_in_at(dashboard, stack, "Webhook triggers")
    expect(page.get_by_text("No webhook triggers yet.")).to_be_visible()
    dashboard.snap("triggers-empty")

    # When they create a signed trigger
    page.get_by_role("button", name="Create trigger").click()
    page.get_by_label("Name", exact=True).fill("Order events")
    page.get_by_label("Agent ID").fill("agent_orders")
    expect(page.get_by_label("Require signed calls")).to_be_checked()
    dashboard.snap("triggers-create")
    page.locator("form").get_by_role("button", name="Create trigger").click()

    # Then its token and secret are shown once, with how to call it, and a signed call works
    expect(page.get_by_role("heading", name='New trigger "Order events"')).to_be_visible()
    token = page.locator("[data-secret='Token']").inner_text()
    secret = page.locator("[data-secret='Signing secret']").inner_text()
    assert (token[:4], secret[:6]) == ("wht_", "whsec_")
    expect(page.get_by_text("X-Webhook-Signature")).to_be_visible()
    dashboard.snap("triggers-secret")
    assert call_trigger(stack, token, secret) == 202
    page.get_by_role("button", name="I have saved it").click()
    assert nowhere_in_page(page, token)
    assert nowhere_in_page(page, secret)
    row = page.get_by_role("row").filter(has_text="Order events")
    expect(row).to_contain_text("active")

    # When they deactivate it, calls are refused
    page.get_by_role("button", name="Deactivate trigger Order events").click()
    expect(row).to_contain_text("inactive")
    assert call_trigger(stack, token, secret) == 403
    dashboard.snap("triggers-list")
    page.get_by_role("button", name="Activate trigger Order events").click()
    expect(row.get_by_text("active", exact=True)).to_be_visible()

    # When they rotate its token
    page.get_by_role("button", name="Rotate the token of trigger Order events").click()
    confirm(
        dashboard, 'Rotate the token of "Order events"?', "Rotate token", "triggers-rotate-confirm"
    )

    # Then the new token is shown once; it works and the old one does not
    expect(page.get_by_role("heading", name='New token for "Order events"')).to_be_visible()
    rotated = page.locator("[data-secret='Token']").inner_text()
    dashboard.snap("triggers-rotated")
    assert rotated != token
    assert (call_trigger(stack, rotated, secret), call_trigger(stack, token, secret)) == (202, 401)
    page.get_by_role("button", name="I have saved it").click()

    # When they delete it, after confirming, it is gone
    page.get_by_role("button", name="Delete trigger Order events").click()
    confirm(dashboard, 'Delete trigger "Order events"?', "Delete trigger")
    expect(page.get_by_text("No webhook triggers yet.")).to_be_visible()
    assert call_trigger(stack, rotated, secret) == 401


def unlock(stack: StackProcess, agent_ui_id: str, pin: str) -> int:
    reply = requests.post(
        f"{stack.url}/api/v1/agent-uis/{agent_ui_id}/unlock", json={"pin": pin}, timeout=10
    )
    return reply.status_code


def test_an_owner_puts_an_agent_ui_behind_a_pin_changes_and_removes_it(
    dashboard: Dashboard, stack: StackProcess
) -> None:
    # Given an owner on the empty agent UIs screen
    owner, page = signed_in_at(dashboard, stack, "Agent UIs")
    expect(page.get_by_text("No agent UIs yet.")).to_be_visible()
    dashboard.snap("agent-uis-empty")

    # When they create one with a PIN
    page.get_by_role("button", name="Create agent UI").click()
    page.get_by_label("Name", exact=True).fill("Support chat")
    page.get_by_label("Agent ID").fill("agent_support")
    pin = page.get_by_label("PIN (optional)")
    assert is_masked(pin)
    expect(pin).to_have_attribute("inputmode", "numeric")
    pin.fill("4821")
    dashboard.snap("agent-uis-create")
    page.locator("form").get_by_role("button", name="Create agent UI").click()

    # Then it is listed as PIN protected, and that PIN opens it
    row = page.get_by_role("row").filter(has_text="Support chat")
    expect(row).to_contain_text("PIN protected")
    (deployment,) = listed(stack, owner, "agent-uis")
    assert unlock(stack, deployment["id"], "4821") == 200

    # When they change the PIN
    page.get_by_role("button", name="Change the PIN of Support chat").click()
    page.get_by_label("New PIN").fill("135790")
    dashboard.snap("agent-uis-pin")
    page.locator("form").get_by_role("button", name="Change PIN").click()

    # Then the new PIN opens it and the old one does not
    expect(page.get_by_text('The PIN of "Support chat" was changed.')).to_be_visible()
    assert (unlock(stack, deployment["id"], "135790"), unlock(stack, deployment["id"], "4821")) == (
        200,
        401,
    )

    # When they remove the PIN, after confirming
    page.get_by_role("button", name="Remove the PIN of Support chat").click()
    confirm(dashboard, 'Remove the PIN of "Support chat"?', "Remove PIN", "agent-uis-remove-pin")

    # Then it is listed without one
    expect(row).to_contain_text("No PIN")
    assert [item["pin_protected"] for item in listed(stack, owner, "agent-uis")] == [False]
    dashboard.snap("agent-uis-list")

    # When they delete it, after confirming, it is gone
    page.get_by_role("button", name="Delete agent UI Support chat").click()
    confirm(dashboard, 'Delete agent UI "Support chat"?', "Delete agent UI")
    expect(page.get_by_text("No agent UIs yet.")).to_be_visible()
    assert listed(stack, owner, "agent-uis") == []
