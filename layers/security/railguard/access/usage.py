"""The last use of things presented as credentials (API keys, webhook triggers) and of members'
places in workspaces: written at most once a minute per item, by whichever instance sees a use
first, with a conditional write (`railguard.access.usage_repository`). An API key's and a
membership's are written by the function serving the request, after its count of the request
(`railguard.http.function`), with the request's source address and user agent."""

from __future__ import annotations

from railguard.access.usage_repository import mark_used
from railguard.store import ItemKey, Table

LAST_USED_RESOLUTION_SECONDS = 60
# A user agent is the client's to choose: kept no longer than this.
USER_AGENT_MAX_CHARS = 256


def note_last_use(table: Table, key: ItemKey, now: int) -> None:
    """Set `last_used_at`, unless it was set less than a minute ago; `ConditionFailed` then."""
    mark_used(table, key, now=now, unless_used_since=now - LAST_USED_RESOLUTION_SECONDS)


def note_use(
    table: Table, key: ItemKey, now: int, *, source_ip: str | None, user_agent: str | None
) -> None:
    """`note_last_use` of an API key's record or a membership, with where the use came from
    (the user agent cut to `USER_AGENT_MAX_CHARS`)."""
    mark_used(
        table,
        key,
        now=now,
        unless_used_since=now - LAST_USED_RESOLUTION_SECONDS,
        # An empty one (no header) is unknown too.
        origin=(source_ip or None, user_agent[:USER_AGENT_MAX_CHARS] if user_agent else None),
    )
