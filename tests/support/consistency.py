"""What must hold of a workspace's stored state whatever failed half-way: no orphan items and an
unbroken audit trail. A write that is all-or-nothing leaves no problem here; one that applied a
part before a fault leaves at least one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from railguard.audit import chain as audit_chain
from railguard.audit import repository as audit_repository
from railguard.audit.trail import AuditLog
from railguard.store import Item, Table
from railguard.store import keys as item_keys
from railguard.store.table import deserialize

# Each resource is created in the transaction that records its creation.
_CREATED = {
    "APIKEY#": "api_key.created",
    "CREDENTIAL#": "credential.created",
    "TRIGGER#": "webhook_trigger.created",
}


def _pointed(table: Table, workspace_id: str, prefix: str, digest_field: str) -> list[str]:
    """Each pointer of the workspace (`<prefix><id>` naming a record by digest) whose record is
    missing or names another id or workspace."""
    record_key = item_keys.api_key if prefix == "APIKEY#" else item_keys.webhook_trigger
    pointers = {
        pointer["sk"].removeprefix(prefix): record_key(pointer[digest_field])
        for pointer in table.iterate(f"WS#{workspace_id}", sk_prefix=prefix)
    }
    keys = list(pointers.values())
    records: dict[tuple[str, str], Item] = {}
    for start in range(0, len(keys), 100):  # BatchGetItem's bound
        records |= table.get_many(keys[start : start + 100])
    problems = []
    for resource_id, key in pointers.items():
        record = records.get(key)
        if record is None:
            problems.append(f"{prefix}{resource_id}: pointer without its record")
        elif (record["id"], record["workspace_id"]) != (resource_id, workspace_id):
            problems.append(f"{prefix}{resource_id}: pointer names another record")
    return problems


def _unpointed_records(table: Table, workspace_id: str) -> list[str]:
    """Key and trigger records of the workspace that no pointer names (a scan: tests only)."""
    pointers = {item["sk"] for item in table.iterate(f"WS#{workspace_id}")}
    problems = []
    for record_prefix, pointer_prefix in (("APIKEY#", "APIKEY#"), ("WEBHOOK#", "TRIGGER#")):
        for record in _scan(table, record_prefix):
            if record.get("workspace_id") != workspace_id:
                continue
            if f"{pointer_prefix}{record['id']}" not in pointers:
                problems.append(f"{record_prefix}{record['id']}: record without its pointer")
    return problems


def _scan(table: Table, partition_prefix: str) -> list[Item]:
    client = table._client  # a scan is no access pattern of the service's: tests only
    pages = client.get_paginator("scan").paginate(
        TableName=table.name,
        FilterExpression="begins_with(pk, :prefix)",
        ExpressionAttributeValues={":prefix": {"S": partition_prefix}},
    )
    return [deserialize(item) for page in pages for item in page["Items"]]


def _defaults(table: Table, workspace_id: str) -> list[str]:
    """Each type's default item names an active credential flagged default, and no other
    credential of the type is flagged."""
    partition = f"WS#{workspace_id}"
    credentials = {
        item["sk"].removeprefix("CREDENTIAL#"): item
        for item in table.iterate(partition, sk_prefix="CREDENTIAL#")
    }
    named = {
        item["sk"].removeprefix("CREDDEFAULT#"): item["credential_id"]
        for item in table.iterate(partition, sk_prefix="CREDDEFAULT#")
    }
    problems = []
    flagged = Counter(c["type"] for c in credentials.values() if c.get("is_default"))
    for credential_type, count in flagged.items():
        if count > 1:
            problems.append(f"{count} default credentials of type {credential_type}")
    for credential_id, item in credentials.items():
        if item.get("is_default") and named.get(item["type"]) != credential_id:
            problems.append(f"credential {credential_id} flagged default, not named")
    for credential_type, credential_id in named.items():
        named_item = credentials.get(credential_id)
        if (
            named_item is None
            or not named_item.get("is_default")
            or named_item["type"] != credential_type
        ):
            problems.append(f"default of {credential_type} names {credential_id}, not flagged")
    return problems


def _audited(table: Table, audit_table: Table, workspace_id: str) -> list[str]:
    trail = item_keys.workspace_trail(workspace_id)
    verification = AuditLog(audit_table, table).verify(trail)
    problems = [] if verification.valid else [f"audit trail broken: {verification.broken_at}"]
    created: Counter[tuple[str, str]] = Counter()
    for event in audit_table.iterate(trail, sk_prefix=audit_repository.AUDIT_EVENT_PREFIX):
        created[(event["action"], event["target"]["id"])] += 1
        if event["action"] == "api_key.rotated":  # the new key's creation is the rotation's
            created[("api_key.created", event["details"]["new_key_id"])] += 1
    partition = f"WS#{workspace_id}"
    for prefix, action in _CREATED.items():
        for item in table.iterate(partition, sk_prefix=prefix):
            resource_id = item["sk"].removeprefix(prefix)
            if created[(action, resource_id)] != 1:
                problems.append(f"{prefix}{resource_id}: {created[(action, resource_id)]} events")
            created.pop((action, resource_id), None)
    problems.extend(
        f"{action} of {target} without the resource"
        for (action, target), _count in created.items()
        if action in _CREATED.values()
    )
    return problems


def _key_slots(table: Table, workspace_id: str) -> list[str]:
    """The workspace's count of active keys, unless it is the number of its keys that hold a
    slot (active, rotated out in its grace or not: `StoredKey.holds_slot`)."""
    workspace = table.get(item_keys.workspace(workspace_id))
    if workspace is None:
        return []
    holding = sum(
        1
        for record in _scan(table, "APIKEY#")
        if record.get("workspace_id") == workspace_id and record.get("status") == "active"
    )
    counted = int(workspace.get("active_keys", 0))
    return [] if counted == holding else [f"active_keys {counted}, but {holding} keys hold a slot"]


def problems(table: Table, audit_table: Table, workspace_id: str) -> list[str]:
    """Everything inconsistent about the workspace's keys, triggers, credentials and trail."""
    return [
        *_key_slots(table, workspace_id),
        *_pointed(table, workspace_id, "APIKEY#", "key_digest"),
        *_pointed(table, workspace_id, "TRIGGER#", "lookup_digest"),
        *_unpointed_records(table, workspace_id),
        *_defaults(table, workspace_id),
        *_audited(table, audit_table, workspace_id),
    ]


# The records a pointer names, by the partition of their key.
_RECORD_POINTERS = {"APIKEY": "APIKEY#", "WEBHOOK": "TRIGGER#"}


def written_keys(calls: Iterable[Any]) -> set[tuple[str, str]]:
    """The (pk, sk) of every item the DynamoDB writes among `calls` named (`faults.Call`s)."""
    keys: set[tuple[str, str]] = set()

    def add(attributes: Mapping[str, Any]) -> None:
        if "pk" in attributes and "sk" in attributes:
            keys.add((attributes["pk"]["S"], attributes["sk"]["S"]))

    for call in calls:
        if call.service != "dynamodb" or not call.is_write:
            continue
        params = call.params
        add(params.get("Key") or params.get("Item") or {})
        for entry in params.get("TransactItems", []):
            for operation in entry.values():
                add(operation.get("Key") or operation.get("Item") or {})
        for requests in params.get("RequestItems", {}).values():
            for request in requests:
                for operation in request.values():
                    add(operation.get("Key") or operation.get("Item") or {})
    return keys


class IncrementalCheck:
    """`problems`, kept up to date across a test by reading only what changed since the last
    check: the key and trigger records among the items a request wrote (instead of a scan of the
    table), the trail's events past the head last verified (instead of the whole chain). The
    workspace's own partition (pointers, defaults) is read whole: it is small. A test ends with
    one `problems`, which reads everything."""

    def __init__(self, table: Table, audit_table: Table, workspace_id: str) -> None:
        self._table, self._audit_table, self._workspace = table, audit_table, workspace_id
        self._trail = item_keys.workspace_trail(workspace_id)
        self._verified: audit_chain.Head | None = None
        self._created: Counter[tuple[str, str]] = Counter()

    def problems(self, written: Iterable[tuple[str, str]]) -> list[str]:
        return [
            *_pointed(self._table, self._workspace, "APIKEY#", "key_digest"),
            *_pointed(self._table, self._workspace, "TRIGGER#", "lookup_digest"),
            *self._unpointed(written),
            *_defaults(self._table, self._workspace),
            *self._audited(),
        ]

    def _unpointed(self, written: Iterable[tuple[str, str]]) -> list[str]:
        keys = [key for key in written if key[0].split("#", 1)[0] in _RECORD_POINTERS]
        records = self._table.get_many(keys) if keys else {}
        pointers = [
            (f"WS#{self._workspace}", f"{_RECORD_POINTERS[key[0].split('#', 1)[0]]}{record['id']}")
            for key, record in records.items()
            if record.get("workspace_id") == self._workspace
        ]
        found = self._table.get_many(pointers) if pointers else {}
        return [
            f"{pointer[1]}: record without its pointer"
            for pointer in pointers
            if pointer not in found
        ]

    def _audited(self) -> list[str]:
        head = AuditLog(self._audit_table, self._table)._head(self._trail)
        events = list(self._events_since(head))
        verification = audit_chain.verify(events, head, start=self._verified)
        if not verification.valid:
            return [f"audit trail broken: {verification.broken_at}"]
        # The event at the head verified last was counted then.
        for event in events[0 if self._verified is None else 1 :]:
            self._created[(event["action"], event["target"]["id"])] += 1
            if event["action"] == "api_key.rotated":  # the new key's creation is the rotation's
                self._created[("api_key.created", event["details"]["new_key_id"])] += 1
        self._verified = head
        return self._created_once()

    def _events_since(self, head: audit_chain.Head | None) -> Iterator[Item]:
        if head is None:
            return
        first = audit_repository.audit_event(
            self._trail, self._verified.seq if self._verified else 1
        )[1]
        last = audit_repository.audit_event(self._trail, head.seq)[1]
        yield from self._audit_table.iterate(self._trail, sk_from=first, sk_until=last)

    def _created_once(self) -> list[str]:
        problems = []
        created = Counter(self._created)
        partition = f"WS#{self._workspace}"
        for prefix, action in _CREATED.items():
            for item in self._table.iterate(partition, sk_prefix=prefix):
                resource_id = item["sk"].removeprefix(prefix)
                if created[(action, resource_id)] != 1:
                    problems.append(
                        f"{prefix}{resource_id}: {created[(action, resource_id)]} events"
                    )
                created.pop((action, resource_id), None)
        problems.extend(
            f"{action} of {target} without the resource"
            for (action, target), count in created.items()
            if action in _CREATED.values() and count
        )
        return problems
