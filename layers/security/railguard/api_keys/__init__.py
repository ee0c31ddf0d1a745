"""API keys (contract section 6): issued once, stored only as a digest, managed by a workspace's
owners and admins, and read by the authorizer on every keyed request.

Its storage is `railguard.api_keys.repository`: a record found by the key's digest (what the
authorizer reads, `KeyLookup`), and a pointer in the workspace's partition, so a key id from
another workspace is simply not found. Both are written in one transaction.

Every change a request makes to a key (created, changed, rotated, revoked) is one event in the
workspace's audit trail, naming the key by id and name, never the key.

The rules are in `service.py`, loaded on first use of one of its names below (PEP 562): the
authorizer reads keys through `repository.py` alone, so importing it must not load them, nor
the audit trail and idempotency they use (`tests/unit/test_authorizer_cold_imports.py`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from railguard.api_keys.key_format import API_KEY_PREFIX as API_KEY_PREFIX
from railguard.api_keys.repository import KeySettings as KeySettings

if TYPE_CHECKING:
    from railguard.api_keys.service import DEFAULT_GRACE_SECONDS as DEFAULT_GRACE_SECONDS
    from railguard.api_keys.service import MAX_GRACE_SECONDS as MAX_GRACE_SECONDS
    from railguard.api_keys.service import ApiKeys as ApiKeys
    from railguard.api_keys.service import IssuedKey as IssuedKey
    from railguard.api_keys.service import KeyLimitReached as KeyLimitReached
    from railguard.api_keys.service import KeyView as KeyView
    from railguard.api_keys.service import validate as validate


def __getattr__(name: str) -> object:
    return getattr(importlib.import_module(f"{__name__}.service"), name)
