"""Usage (issue 21, contract section 11): what each API key, member and workspace did, by hour
and outcome, kept 90 days, for owners and admins (`GET /api-keys/{id}/usage`, `GET /usage`).

Allowed requests are the rate limiter's own count (the workspace minute items: no write of
usage's own per request), summed each hour by the rollup job (`rollup.py`); refusals decided by
the authorizer and 429s decided by functions are counted in memory and flushed (`tally.py`);
the reader (`service.py`) joins the two. Storage: `repository.py`.

The reader is loaded on first use of its names (PEP 562): the authorizer imports `tally` alone,
and importing it must not load the rules it never runs
(`tests/unit/test_authorizer_cold_imports.py`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from railguard.usage.service import Bucket as Bucket
    from railguard.usage.service import Granularity as Granularity
    from railguard.usage.service import Usage as Usage
    from railguard.usage.service import UsageQuery as UsageQuery


def __getattr__(name: str) -> object:
    return getattr(importlib.import_module(f"{__name__}.service"), name)
