"""Which items hold sealed secrets, under which KMS key, and their re-sealing under the current key
(the rotation job; contract section 12).

Every item with an envelope-encrypted attribute also records, beside it, the owner each sealed
attribute is bound to, and enters the sealing index under the KMS key that sealed it
(`railguard.crypto.sealing_repository`). The rotation job asks that index for the items whose
key is not the current one, two range queries per shard, and seals each secret again under the
current key with a new data key, conditioned on the sealed value being the one it read. KMS's own
yearly rotation of key material needs none of this; it is for a stack whose `KMS_KEY_ID` now names
another key.
"""

from __future__ import annotations

from railguard.crypto.envelope import Envelope, parse_envelope
from railguard.crypto.sealing_repository import (
    SEALING_SHARDS,
    SealedItems,
    sealed_attributes,
)
from railguard.jobs import JobReport, KeepGoing, while_time_remains
from railguard.store import ItemKey, Table

# Every item with sealed secrets stores them through `sealed_attributes`.
__all__ = ["SEALING_SHARDS", "Resealing", "sealed_attributes"]


class Resealing:
    def __init__(self, table: Table, envelope: Envelope):
        self._items = SealedItems(table)
        self._envelope = envelope

    def reseal_stale(self, keep_going: KeepGoing, report: JobReport) -> None:
        current = self._envelope.key_arn()
        stale = self._items.sealed_under_other_keys(current)
        for key in while_time_remains(stale, keep_going, report):
            self._reseal(key, current, report)

    def _reseal(self, key: ItemKey, current: str, report: JobReport) -> None:
        read = self._items.get(key)
        if read is None:
            return
        if all(parse_envelope(blob).key_id == current for blob, _ in read.secrets.values()):
            return  # re-sealed since the index was read
        fresh = {
            name: (self._envelope.encrypt(self._envelope.decrypt(blob, owner), owner), owner)
            for name, (blob, owner) in read.secrets.items()
        }
        if not self._items.reseal(read, fresh):
            report.count("resealed_meanwhile")  # changed since read: it is under the new key
            return
        report.count("secrets_resealed", len(fresh))
