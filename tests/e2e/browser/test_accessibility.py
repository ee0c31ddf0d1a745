"""The dashboard with the keyboard alone: every control has a name a screen reader can say,
focus is always visible, and a person logs in and moves between screens without a mouse."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.browser.pages import Dashboard
from tests.e2e.local_stack import StackProcess
from tests.e2e.people import PASSWORD, new_owner

# Controls without a name: neither a <label>, aria-label(ledby), nor (for buttons and links) text.
_UNNAMED_CONTROLS = """() => [
  ...document.querySelectorAll('input, select, textarea, button, a[href]')]
  .filter((control) => control.offsetParent !== null)
  .filter((control) => !(control.labels && control.labels.length)
    && !control.getAttribute('aria-label') && !control.getAttribute('aria-labelledby')
    && !control.textContent.trim())
  .map((control) => control.outerHTML.slice(0, 80))"""

_FOCUS_OUTLINE = """() => {
  const style = getComputedStyle(document.activeElement);
  return style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
}"""


def _tab_to(page: Page, name: str) -> None:
    """Press Tab until the focused element is the one named `name` (at most 40 presses)."""
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => document.activeElement.getAttribute('aria-label')"
            " || document.activeElement.textContent.trim()"
            " || (document.activeElement.labels?.[0]?.textContent ?? '')"
        )
        if focused == name:
            assert page.evaluate(_FOCUS_OUTLINE), f"focus on {name!r} is not visible"
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_a_person_logs_in_and_moves_between_screens_with_the_keyboard_alone(
    dashboard: Dashboard, stack: StackProcess
) -> None:
    # Given an account, at the login screen, every control named
    owner = new_owner(stack)
    page = dashboard.page
    assert page.evaluate(_UNNAMED_CONTROLS) == []

    # When they log in with the keyboard alone
    _tab_to(page, "Email")
    page.keyboard.type(owner.email)
    _tab_to(page, "Password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    # Then they are signed in, on the keys screen
    page.locator("main[data-screen='keys']").wait_for()

    # When they open each screen from the navigation with Tab and Enter
    for screen, path in (
        ("Credentials", "credentials"),
        ("Webhook triggers", "triggers"),
        ("Agent UIs", "agent-uis"),
        ("Members", "members"),
        ("Audit trail", "audit"),
        ("Workspace settings", "settings"),
    ):
        page.locator("body").focus()
        _tab_to(page, screen)
        page.keyboard.press("Enter")
        # Then the screen opens, and none of its controls is nameless
        expect(page).to_have_url(f"{stack.url}/#/{path}")
        page.locator(f"main[data-screen='{path}']").wait_for()
        assert page.evaluate(_UNNAMED_CONTROLS) == []

    # And a form opened from the keyboard names every field too
    page.get_by_role("link", name="API keys").focus()
    page.keyboard.press("Enter")
    page.locator("main[data-screen='keys']").wait_for()
    page.locator("body").focus()
    _tab_to(page, "Create key")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Name", exact=True)).to_be_visible()
    assert page.evaluate(_UNNAMED_CONTROLS) == []
