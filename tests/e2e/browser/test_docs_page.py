"""Swagger UI (`/api/v1/docs`) shares its origin with the dashboard: it runs under a CSP that
lets only its own scripts run and nothing frame it, and it still works under it."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.browser.pages import Dashboard


def test_the_api_docs_page_works_under_its_own_strict_csp(dashboard: Dashboard) -> None:
    # When the API's documentation page is opened on the dashboard's origin
    page = dashboard.page
    response = page.goto("/api/v1/docs")
    # Then its policy allows scripts by hash alone and no framing
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'sha256-" in policy
    assert "'unsafe-eval'" not in policy
    # And Swagger UI renders the document under it, with no violation reported
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Railguard")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.evaluate("() => window.__cspViolations") == []
