"""Storage of the keys the service keeps for itself: the access-token signing keys (one partition,
`SIGNING_KEY`, a key per kid; `railguard.crypto.signing_keys`, `railguard.crypto.public_keys`)
and the server keys (`SERVER_KEY`, a key per name; `railguard.crypto.server_keys`). Their secret
halves are stored sealed, and enter the sealing index (`railguard.crypto.sealing_repository`).

The authorizer reads the public halves through this module: it loads the sealing index's layout
(and with it the envelope) only when a key is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from railguard.store import ConditionFailed, Item, ItemKey, Repository, Table

if TYPE_CHECKING:
    from railguard.crypto.envelope import SecretOwner

SIGNING_KEY_PARTITION = "SIGNING_KEY"
_RING_LIMIT = 100


def signing_key(kid: str) -> ItemKey:
    return (SIGNING_KEY_PARTITION, kid)


def server_key(name: str) -> ItemKey:
    """A key the service made for itself (e.g. the one that hashes trigger tokens), sealed."""
    return ("SERVER_KEY", name)


@dataclass(frozen=True)
class SigningKeyRecord:
    kid: str
    signs_from: int
    private_key: bytes = field(repr=False)  # sealed
    verify_until: int | None


@dataclass(frozen=True)
class PublishedKey:
    """A signing key's public half, as verifiers see it."""

    public_jwk: dict[str, str]
    verify_until: int | None


def _sealed(key: ItemKey, name: str, sealed: bytes, owner: SecretOwner) -> Item:
    # The envelope is loaded only by the functions that write keys, never by the authorizer.
    from railguard.crypto.sealing_repository import sealed_attributes  # noqa: PLC0415

    return {name: sealed, **sealed_attributes(key, {name: (sealed, owner)})}


class SigningKeys(Repository):
    def ring(self) -> list[SigningKeyRecord]:
        return [
            SigningKeyRecord(
                item["sk"],
                # Keys from before `signs_from` existed signed from their creation.
                int(item["signs_from"] if "signs_from" in item else item["created_at"]),
                item["private_key"],
                item.get("verify_until"),
            )
            for item in self._table.query(SIGNING_KEY_PARTITION, limit=_RING_LIMIT).items
        ]

    def published(self) -> list[PublishedKey]:
        """The ring's public halves, newest first."""
        page = self._table.query(SIGNING_KEY_PARTITION, limit=_RING_LIMIT, newest_first=True)
        return [
            PublishedKey(dict(item["public_jwk"]), item.get("verify_until")) for item in page.items
        ]

    def add(
        self,
        kid: str,
        *,
        public_jwk: dict[str, Any],
        private_key: bytes,
        owner: SecretOwner,
        created_at: int,
        signs_from: int,
    ) -> bool:
        """Store a new key; False when the kid is taken (nothing is overwritten)."""
        key = signing_key(kid)
        item: Item = {
            "pk": key[0],
            "sk": key[1],
            "status": "active",
            "public_jwk": public_jwk,
            **_sealed(key, "private_key", private_key, owner),
            "created_at": created_at,
            "signs_from": signs_from,
        }
        return _put_new(self._table, item)

    def retire(self, kid: str, verify_until: int) -> int:
        """Give the key its `verify_until`, unless it has one; the one it has now."""
        return int(
            self._table.update(
                signing_key(kid),
                "SET verify_until = if_not_exists(verify_until, :until)",
                values={":until": verify_until},
            )["verify_until"]
        )

    def remove_expired(self, kid: str, now: int) -> bool:
        """Remove the key if its `verify_until` has passed; False when it has not (or it is
        gone)."""
        try:
            self._table.delete(
                signing_key(kid), condition="verify_until <= :now", values={":now": now}
            )
        except ConditionFailed:
            return False
        return True


class ServerKeys(Repository):
    def sealed(self, name: str) -> bytes | None:
        item = self._table.get(server_key(name))
        return item["sealed"] if item is not None else None

    def add(self, name: str, sealed: bytes, owner: SecretOwner, *, created_at: int) -> bool:
        """Store a new key; False when one of that name exists (nothing is overwritten)."""
        key = server_key(name)
        item: Item = {
            "pk": key[0],
            "sk": key[1],
            **_sealed(key, "sealed", sealed, owner),
            "created_at": created_at,
        }
        return _put_new(self._table, item)


def _put_new(table: Table, item: Item) -> bool:
    try:
        table.put(item, condition="attribute_not_exists(pk)")
    except ConditionFailed:
        return False
    return True
