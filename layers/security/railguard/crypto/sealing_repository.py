"""Storage of the sealing index (`railguard.crypto.sealing`): what an item holding sealed secrets
also stores, and the rotation job's reads and writes of those secrets.

Beside each sealed attribute an item records the owner it is bound to (`sealed_owners`: purpose,
workspace, item; not secret), and enters the sealing index (gsi3, keys only) under
`SEALED#<shard>` / `<KMS key ARN>#<pk>#<sk>`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from railguard.crypto.envelope import SecretOwner, parse_envelope
from railguard.store import ConditionFailed, Item, ItemKey, Repository
from railguard.store import keys as item_keys

SEALING_SHARDS = 16
SEALING_INDEX = "gsi3"

Sealed = Mapping[str, tuple[bytes, SecretOwner]]  # attribute name -> (blob, owner)


def _partition(shard: int) -> str:
    return f"SEALED#{shard:02d}"


def sealed_attributes(key: ItemKey, sealed: Sealed) -> Item:
    """What an item with sealed attributes (`name -> (blob, owner)`) also stores: the owners,
    and its place in the sealing index under the key that sealed them."""
    pk, sk = key
    key_ids = {parse_envelope(blob).key_id for blob, _ in sealed.values()}
    shard = item_keys.shard_of(pk, SEALING_SHARDS)
    return {
        "sealed_owners": {name: owner.context() for name, (_, owner) in sealed.items()},
        "gsi3pk": _partition(shard),
        # An item sealed under two keys at once (never, today) sorts under the smaller.
        "gsi3sk": f"{min(key_ids)}#{pk}#{sk}",
    }


@dataclass(frozen=True)
class SealedItem:
    key: ItemKey = field(repr=False)  # a key's or a trigger's record is keyed by a digest
    secrets: Sealed = field(repr=False)  # the sealed attributes it holds, with their owners


class SealedItems(Repository):
    def sealed_under_other_keys(self, current: str) -> Iterator[ItemKey]:
        """The items sealed under any key but `current` (a key ARN), shard by shard: in each,
        those sorting before it, then after it ("$" follows the "#" that ends the current ARN
        in a sort key)."""
        for shard in range(SEALING_SHARDS):
            partition = _partition(shard)
            for stale in (
                self._table.iterate(partition, index=SEALING_INDEX, sk_until=current),
                self._table.iterate(partition, index=SEALING_INDEX, sk_after=f"{current}$"),
            ):
                yield from ((entry["pk"], entry["sk"]) for entry in stale)

    def get(self, key: ItemKey) -> SealedItem | None:
        item = self._table.get(key)
        if item is None or "sealed_owners" not in item:
            return None
        return SealedItem(
            key,
            {
                name: (item[name], SecretOwner(**context))
                for name, context in item["sealed_owners"].items()
                if name in item
            },
        )

    def reseal(self, read: SealedItem, fresh: Sealed) -> bool:
        """Replace the item's sealed attributes with `fresh`, and its place in the index, on the
        condition that they are still the ones `read`; False when they changed meanwhile."""
        names = {f"#s{n}": name for n, name in enumerate(fresh)}
        update = "SET " + ", ".join(
            [*(f"#s{n} = :new{n}" for n in range(len(fresh))), "gsi3sk = :order"]
        )
        condition = " AND ".join(f"#s{n} = :old{n}" for n in range(len(fresh)))
        values: dict[str, object] = {
            ":order": sealed_attributes(read.key, fresh)["gsi3sk"],
            **{f":new{n}": blob for n, (blob, _) in enumerate(fresh.values())},
            **{f":old{n}": read.secrets[name][0] for n, name in enumerate(fresh)},
        }
        try:
            self._table.update(read.key, update, condition=condition, names=names, values=values)
        except ConditionFailed:
            return False
        return True
