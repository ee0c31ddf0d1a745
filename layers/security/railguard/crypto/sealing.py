"""Which items hold sealed secrets, under which KMS key, and their re-sealing under the current key
(the rotation job; contract section 12).

Every item with an envelope-encrypted attribute also records, beside it, the owner each sealed
attribute is bound to (`sealed_owners`: purpose, workspace, item; not secret) and enters the
sealing index (gsi3, keys only) under `SEALED#<shard>` / `<KMS key ARN>#<pk>#<sk>`. The rotation
job asks that index for the items whose key is not the current one, two range queries per
shard, and seals each secret again under the current key with a new data key, conditioned on
the sealed value being the one it read. KMS's own yearly rotation of key material needs none of
this; it is for a stack whose `KMS_KEY_ID` now names another key.
"""

from __future__ import annotations

from collections.abc import Mapping

from railguard.crypto.envelope import Envelope, SecretOwner, parse_envelope
from railguard.jobs import JobReport, KeepGoing, while_time_remains
from railguard.store import ConditionFailed, Item, ItemKey, Table
from railguard.store import keys as item_keys

SEALING_SHARDS = 16
SEALING_INDEX = "gsi3"


def _partition(shard: int) -> str:
    return f"SEALED#{shard:02d}"


def sealed_attributes(key: ItemKey, sealed: Mapping[str, tuple[bytes, SecretOwner]]) -> Item:
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


class Resealing:
    def __init__(self, table: Table, envelope: Envelope):
        self._table = table
        self._envelope = envelope

    def reseal_stale(self, keep_going: KeepGoing, report: JobReport) -> None:
        current = self._envelope.key_arn()
        for shard in range(SEALING_SHARDS):
            # Every key ARN but the current one: those sorting before it, and after it ("$"
            # follows the "#" that ends the current ARN in a sort key).
            partition = _partition(shard)
            for stale in (
                self._table.iterate(partition, index=SEALING_INDEX, sk_until=current),
                self._table.iterate(partition, index=SEALING_INDEX, sk_after=f"{current}$"),
            ):
                for entry in while_time_remains(stale, keep_going, report):
                    self._reseal((entry["pk"], entry["sk"]), current, report)
                if not report.complete:
                    return

    def _reseal(self, key: ItemKey, current: str, report: JobReport) -> None:
        item = self._table.get(key)
        if item is None or "sealed_owners" not in item:
            return
        owners = {
            name: SecretOwner(**context)
            for name, context in item["sealed_owners"].items()
            if name in item
        }
        if all(parse_envelope(item[name]).key_id == current for name in owners):
            return  # re-sealed since the index was read
        fresh = {
            name: self._envelope.encrypt(self._envelope.decrypt(item[name], owner), owner)
            for name, owner in owners.items()
        }
        names = {f"#s{n}": name for n, name in enumerate(fresh)}
        update = "SET " + ", ".join(
            [*(f"#s{n} = :new{n}" for n in range(len(fresh))), "gsi3sk = :order"]
        )
        condition = " AND ".join(f"#s{n} = :old{n}" for n in range(len(fresh)))
        values: dict[str, object] = {
            ":order": sealed_attributes(key, {name: (fresh[name], owners[name]) for name in fresh})[
                "gsi3sk"
            ],
            **{f":new{n}": blob for n, blob in enumerate(fresh.values())},
            **{f":old{n}": item[name] for n, name in enumerate(fresh)},
        }
        try:
            self._table.update(key, update, condition=condition, names=names, values=values)
        except ConditionFailed:
            report.count("resealed_meanwhile")  # changed since read: it is under the new key
            return
        report.count("secrets_resealed", len(fresh))
