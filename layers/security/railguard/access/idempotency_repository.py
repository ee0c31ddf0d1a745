"""Storage of Idempotency-Keys (`railguard.access.idempotency`): one item per workspace and key
digest, in the workspace's partition, with a `ttl` that places it on the retention job's sweep
index."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from railguard.store import Item, ItemKey, Repository, TransactItem
from railguard.store import keys as item_keys


def idempotency(workspace_id: str, key_digest: str) -> ItemKey:
    """A creation's Idempotency-Key (by digest of the caller and the key), for a day."""
    return (f"WS#{workspace_id}", f"IDEMPOTENCY#{key_digest}")


@dataclass(frozen=True)
class RememberedKey:
    resource_id: str
    request_mac: str = field(repr=False)
    expires_at: int


class IdempotencyKeys(Repository):
    def get(self, workspace_id: str, key_digest: str) -> RememberedKey | None:
        item = self._table.get(idempotency(workspace_id, key_digest))
        if item is None:
            return None
        return RememberedKey(
            str(item["resource_id"]), str(item["request_mac"]), int(item["expires_at"])
        )

    @staticmethod
    def remember(
        workspace_id: str,
        key_digest: str,
        remembered: RememberedKey,
        *,
        now: int,
        fails_as: Callable[[], Exception],
    ) -> TransactItem:
        """The put that remembers a key until `remembered.expires_at`; it fails as `fails_as`
        when an unexpired one is there already."""
        pk, sk = idempotency(workspace_id, key_digest)
        item: Item = {
            "pk": pk,
            "sk": sk,
            "request_mac": remembered.request_mac,
            "resource_id": remembered.resource_id,
            "created_at": now,
            "expires_at": remembered.expires_at,
            "ttl": remembered.expires_at,
            **item_keys.sweep_index(pk, remembered.expires_at),
        }
        return TransactItem.put(
            item,
            condition="attribute_not_exists(pk) OR expires_at <= :now",
            values={":now": now},
            fails_as=fails_as,
        )
