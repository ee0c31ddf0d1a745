"""The routes that need no credential: the contract's public ones (section 3), the auth flows of
section 4, the webhook call, the agent UI unlock and its session, and CORS preflights, and nothing
else (docs/security.md, "Every route is protected by default", lists them). The template's routes
(tests/unit/infra/test_template.py) and its expansion for each stage (tests/deploy) must agree."""

from __future__ import annotations

PUBLIC_ROUTES = frozenset(
    {
        "GET /api/v1/health",
        "GET /.well-known/jwks.json",
        "GET /api/v1/openapi.json",
        "GET /api/v1/docs",
        "GET /.well-known/security.txt",
        "POST /api/v1/auth/signup",
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/mfa/verify",
        "POST /api/v1/auth/refresh",
        "POST /api/v1/auth/logout",
        "POST /api/v1/webhook/trigger",
        "POST /api/v1/agent-uis/{agent_ui_id}/unlock",
        "GET /api/v1/agent-uis/{agent_ui_id}/session",
        "OPTIONS /{proxy+}",
    }
)
