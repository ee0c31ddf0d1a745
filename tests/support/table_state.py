"""The stored state of some DynamoDB tables, whole: to tell that a request changed nothing (a
digest), what it changed (a diff), and to put a prepared state back (a restore that writes only
the differences). Scans: tests only, on the small tables of one test's world."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RawItem = dict[str, Any]  # DynamoDB's JSON: {"pk": {"S": "..."}, ...}
ItemKey = tuple[str, str, str]  # table, pk, sk


def _key(table: str, item: Mapping[str, Any]) -> ItemKey:
    return table, json.dumps(item["pk"], sort_keys=True), json.dumps(item["sk"], sort_keys=True)


@dataclass(frozen=True)
class TableState:
    """Every item of some tables, by (table, pk, sk)."""

    tables: tuple[str, ...]
    items: dict[ItemKey, RawItem]

    @classmethod
    def capture(cls, client: Any, tables: Sequence[str]) -> TableState:
        return cls(
            tuple(tables),
            {
                _key(table, item): item
                for table in tables
                for page in client.get_paginator("scan").paginate(
                    TableName=table, ConsistentRead=True
                )
                for item in page["Items"]
            },
        )

    def without(self, ignored: Callable[[str, RawItem], bool]) -> TableState:
        """The state less the items `ignored(table, item)` names."""
        kept = {key: item for key, item in self.items.items() if not ignored(key[0], item)}
        return TableState(self.tables, kept)

    def digest(self) -> str:
        canonical = json.dumps(sorted(self.items.items()), sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def changes_since(self, earlier: TableState) -> dict[str, list[ItemKey]]:
        """The keys added, removed and changed from `earlier` to this state."""
        return {
            "added": sorted(self.items.keys() - earlier.items.keys()),
            "removed": sorted(earlier.items.keys() - self.items.keys()),
            "changed": sorted(
                key
                for key in self.items.keys() & earlier.items.keys()
                if self.items[key] != earlier.items[key]
            ),
        }

    def restore(self, client: Any) -> list[tuple[ItemKey, RawItem]]:
        """Make the tables hold this state again: delete what was added, put back what was
        removed or changed. Returns each item that differed, as it was before the restore
        (a removed one as it is in this state)."""
        current = TableState.capture(client, self.tables)
        changes = current.changes_since(self)
        writes: dict[str, list[dict[str, Any]]] = {}
        differed: list[tuple[ItemKey, RawItem]] = []
        for key in changes["added"]:
            item = current.items[key]
            differed.append((key, item))
            writes.setdefault(key[0], []).append(
                {"DeleteRequest": {"Key": {"pk": item["pk"], "sk": item["sk"]}}}
            )
        for key in changes["removed"] + changes["changed"]:
            differed.append((key, current.items.get(key, self.items[key])))
            writes.setdefault(key[0], []).append({"PutRequest": {"Item": self.items[key]}})
        for table, requests in writes.items():
            for start in range(0, len(requests), 25):  # BatchWriteItem's bound
                client.batch_write_item(RequestItems={table: requests[start : start + 25]})
        return differed
