"""Workspaces and their members (contract section 5).

Isolation is a property of the keys: every operation on a workspace takes a `WorkspaceScope`,
which only exists for a principal the authorizer established in that workspace, and every key
is built from the scope's workspace id. A user id from the request is only ever looked up inside
that workspace's partition, so another workspace's member is simply not found.

Every change (a workspace created, changed, deleted or handed over; a member added, moved to
another role or removed) is one event in the workspace's audit trail, recorded once it happened.

The rules are in `service.py`, loaded on first use of one of its names below (PEP 562): the
authorizer reads workspaces through `repository.py` alone, so importing it must not load them,
nor the audit trail they record in (`tests/unit/test_authorizer_cold_imports.py`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from railguard.workspaces.repository import is_live as is_live
from railguard.workspaces.repository import still_live as still_live

if TYPE_CHECKING:
    from railguard.workspaces.service import Listing as Listing
    from railguard.workspaces.service import MemberView as MemberView
    from railguard.workspaces.service import ResourceScope as ResourceScope
    from railguard.workspaces.service import Workspaces as Workspaces
    from railguard.workspaces.service import WorkspaceScope as WorkspaceScope
    from railguard.workspaces.service import WorkspaceView as WorkspaceView
    from railguard.workspaces.service import new_workspace as new_workspace


def __getattr__(name: str) -> object:
    return getattr(importlib.import_module(f"{__name__}.service"), name)
