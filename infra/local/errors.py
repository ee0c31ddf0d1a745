"""Why the local stack could not start."""

from __future__ import annotations


class StartupError(Exception):
    """The local stack cannot start; the message says why and what to change."""
