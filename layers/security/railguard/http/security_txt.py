"""`/.well-known/security.txt` (RFC 9116): where and how to report a vulnerability (pure).

The file is written for each request from the deployment's settings, so it is never stale while
the stack serves it: `Expires` is always `LIFETIME_SECONDS` ahead of the request's time. That
bounds how long a saved copy (a researcher's notes, a scanner's cache) should be trusted after
the contact changes, and stays well under the year RFC 9116 recommends at most.
"""

from __future__ import annotations

from dataclasses import dataclass

from railguard.core.clock import rfc3339

LIFETIME_SECONDS = 30 * 86_400
MEDIA_TYPE = "text/plain; charset=utf-8"  # RFC 9116 section 3: text/plain, UTF-8
# Whole-value patterns for the settings that fill the fields: one URI each, of visible ASCII
# only (no space or line break, so a value cannot start another field). Contact: RFC 9116
# section 2.5.3; the others must be https. template.yaml's AllowedPattern says the same.
CONTACT_PATTERN = r"(mailto:|tel:|https://)[!-~]+"
HTTPS_URI_PATTERN = r"https://[!-~]+"


@dataclass(frozen=True)
class SecurityTxt:
    contact: str
    policy: str
    preferred_languages: str = "en"
    canonical: str | None = None  # where this file is served; left out when not configured

    def render(self, now: float) -> str:
        fields = [
            ("Contact", self.contact),
            ("Expires", rfc3339(now + LIFETIME_SECONDS)),
            ("Policy", self.policy),
            ("Preferred-Languages", self.preferred_languages),
        ]
        if self.canonical:
            fields.append(("Canonical", self.canonical))
        return "".join(f"{name}: {value}\n" for name, value in fields)
