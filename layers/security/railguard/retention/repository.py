"""The retention job's storage: its two work lists (the deletion index, gsi1, and the sweep index,
gsi2), a deleted workspace's partition, and the conditional writes that purge and sweep.

Each write is conditional on the state that made the item due and on the item not being purged
yet, so a second run, one racing a restore, or one reading an index that lags, changes nothing
it should not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from railguard.kinds import KINDS, Erasure, Placement, ResourceKind
from railguard.store import ConditionFailed, Item, ItemKey, Repository, TransactItem
from railguard.store import keys as item_keys

# Every purge also takes the item off the work list and, with nothing sealed left in it, out of
# the sealing index (so the rotation job never reads it again).
_ALSO_REMOVED = ("gsi1pk", "gsi1sk", "sealed_owners", "gsi3pk", "gsi3sk")
# A purge happens once, however often a lagging index or an overlapping run shows the item.
_NOT_YET_PURGED = "attribute_not_exists(purged_at)"
# A resource deleted on its own: still deleted (not restored since the index said), and due.
_DUE_ON_ITS_OWN = "#status = :deleted AND deleted_at <= :cutoff"
# A resource of a deleted workspace (which is never restored): due with it, whatever its status.
_DUE_WITH_ITS_WORKSPACE = "attribute_exists(pk)"
_WORKSPACE_PREFIX = "WS#"


@dataclass(frozen=True)
class DueResource:
    """A resource retention erases: the item holding its secrets (`key`), of `kind`, as the
    index or its workspace's partition showed it."""

    key: ItemKey = field(repr=False)  # a key's or a trigger's record is keyed by a digest
    kind: str
    erasure: Erasure
    workspace_id: str
    resource_id: str
    name: str | None
    type: str | None
    purged: bool


@dataclass(frozen=True)
class DeletedWorkspace:
    key: ItemKey
    workspace_id: str
    purged_through: str | None


# The kinds retention erases, and where their items are.
_ERASED: tuple[tuple[ResourceKind, Placement, Erasure], ...] = tuple(
    (kind, kind.placement, kind.erasure)
    for kind in KINDS
    if kind.placement is not None and kind.erasure is not None
)


def _due(item: Item, kind: ResourceKind, erasure: Erasure, key: ItemKey) -> DueResource:
    return DueResource(
        key=key,
        kind=kind.name,
        erasure=erasure,
        workspace_id=item["pk"].removeprefix(_WORKSPACE_PREFIX),
        resource_id=item.get("id", ""),
        name=item.get("name"),
        type=item.get("type"),
        purged="purged_at" in item,
    )


def _purge_expression(
    resource: DueResource, now: int, cutoff: int | None, retire: bool
) -> tuple[str, str, dict[str, str], dict[str, Any]]:
    erasure = resource.erasure
    assignments = ["purged_at = :now"]
    values: dict[str, Any] = {":now": now}
    if erasure.masked:
        assignments.append("masked_content = :blank")
        values[":blank"] = "****"
    if retire:
        assignments.append("#status = :retired")
        values[":retired"] = erasure.retired_status
    names = {f"#erase{n}": name for n, name in enumerate(erasure.attributes)}
    if cutoff is not None:
        due = _DUE_ON_ITS_OWN
        values.update({":deleted": "deleted", ":cutoff": cutoff})
    else:
        due = _DUE_WITH_ITS_WORKSPACE
    if cutoff is not None or retire:
        names["#status"] = "status"
    removed = ", ".join((*(name for name in names if name.startswith("#erase")), *_ALSO_REMOVED))
    update = f"SET {', '.join(assignments)} REMOVE {removed}"
    return update, f"{due} AND {_NOT_YET_PURGED}", names, values


class RetentionRepository(Repository):
    def deleted_until(self, cutoff: int) -> Iterator[DueResource | DeletedWorkspace]:
        """What was deleted at or before `cutoff` and is still deleted, oldest first: resources
        deleted on their own, and deleted workspaces."""
        deleted = self._table.iterate(
            item_keys.DELETED_INDEX_PARTITION, index="gsi1", sk_until=f"{cutoff:012d}#~"
        )
        for item in deleted:
            if item.get("status") != "deleted":
                continue
            key = (item["pk"], item["sk"])
            workspace_id = item["pk"].removeprefix(_WORKSPACE_PREFIX)
            if key == item_keys.workspace(workspace_id):
                yield DeletedWorkspace(key, workspace_id, item.get("purged_through"))
                continue
            for kind, placement, erasure in _ERASED:
                if placement.holds_secrets(item["sk"]):
                    yield _due(item, kind, erasure, key)
                    break

    def resources_of(self, workspace: DeletedWorkspace) -> Iterator[tuple[str, DueResource | None]]:
        """Every item of a deleted workspace's partition after its `purged_through`, in sort-key
        order, as (its sort key, the resource it names if retention erases one): the entry of
        a kind whose secrets are in a record (a key's, a trigger's) names that record."""
        items = self._table.iterate(workspace.key[0], sk_after=workspace.purged_through)
        for item in items:
            named = next(
                (entry for entry in _ERASED if item["sk"].startswith(entry[1].entry)), None
            )
            if named is None:
                yield item["sk"], None
                continue
            kind, placement, erasure = named
            yield item["sk"], _due(item, kind, erasure, placement.key_of(item))

    def purge_write(
        self, resource: DueResource, now: int, *, cutoff: int | None, retire: bool
    ) -> TransactItem:
        """The write that erases and marks `resource` if it is still due and not yet purged:
        deleted on its own at or before `cutoff`, or, without one, due with its workspace
        (`retire`: and left in its erasure's retired status)."""
        update, condition, names, values = _purge_expression(resource, now, cutoff, retire)
        return TransactItem.update_item(
            resource.key, update, condition=condition, names=names, values=values
        )

    def purge(self, resource: DueResource, now: int, *, cutoff: int | None, retire: bool) -> bool:
        """`purge_write` on its own; False when the item is no longer due (restored or purged
        since the index said)."""
        update, condition, names, values = _purge_expression(resource, now, cutoff, retire)
        try:
            self._table.update(
                resource.key, update, condition=condition, names=names, values=values
            )
        except ConditionFailed:
            return False
        return True

    def record_progress(self, workspace: DeletedWorkspace, purged_through: str) -> bool:
        """How far a cut-off run got; False when another run has finished the workspace."""
        return self._update_workspace(
            workspace, "SET purged_through = :progress", {":progress": purged_through}
        )

    def finish(self, workspace: DeletedWorkspace, now: int) -> bool:
        """The workspace purged and off the work list; False when another run finished it."""
        return self._update_workspace(
            workspace,
            "SET purged_at = :now REMOVE gsi1pk, gsi1sk, purged_through",
            {":now": now},
        )

    def _update_workspace(
        self, workspace: DeletedWorkspace, update: str, values: dict[str, object]
    ) -> bool:
        try:
            self._table.update(
                workspace.key,
                update,
                condition=f"#status = :deleted AND {_NOT_YET_PURGED}",
                names={"#status": "status"},
                values={":deleted": "deleted", **values},
            )
        except ConditionFailed:
            return False
        return True

    def expired(self, shard: int, now: int) -> Iterator[ItemKey]:
        """The keys of the items of one sweep shard whose ttl has passed."""
        index = self._table.iterate(
            item_keys.sweep_partition(shard), index="gsi2", sk_until=f"{now:012d}"
        )
        for entry in index:
            yield entry["pk"], entry["sk"]

    def remove_expired(self, key: ItemKey, now: int) -> bool:
        """False when the item is gone, or renewed, since the index said."""
        try:
            self._table.delete(
                key, condition="#ttl <= :now", names={"#ttl": "ttl"}, values={":now": now}
            )
        except ConditionFailed:
            return False
        return True
