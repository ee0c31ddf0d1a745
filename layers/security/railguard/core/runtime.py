"""What a function builds once, at its first invocation (the cold start): validated settings,
its logger, and the AWS clients it needs, created only when first used."""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING, cast

import botocore.session
from botocore.config import Config

from railguard.core.clock import Clock, SystemClock
from railguard.core.settings import (
    AnchorSettings,
    AuditSettings,
    EnvelopeSettings,
    EventBusSettings,
    FunctionSettings,
    IdempotencySettings,
    TableSettings,
)
from railguard.store import Table

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_kms.client import KMSClient

    from railguard.audit.anchors import TrailAnchors
    from railguard.audit.trail import AuditLog, StoredAuditTrail
    from railguard.core.events import EventBus
    from railguard.crypto.envelope import Envelope, KmsMac
    from railguard.crypto.server_keys import KeyedHash

# Fail fast and let the client retry: a Lambda waiting on a slow dependency burns its timeout.
AWS_CLIENT_CONFIG = Config(
    connect_timeout=1,
    read_timeout=2,
    retries={"mode": "standard", "max_attempts": 3},
    tcp_keepalive=True,
)


class Runtime[S: FunctionSettings]:
    def __init__(self, settings: S, clock: Clock | None = None):
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._keyed_hashes: dict[str, KeyedHash] = {}

    @staticmethod
    def cold_start[T: FunctionSettings](settings_model: type[T]) -> Runtime[T]:
        """The one place configuration is read: once, when a function instance first runs."""
        return Runtime(settings_model.from_environ(os.environ))

    def _declared[T](self, settings_type: type[T], what: str) -> T:
        """The settings, as the `settings_type` a part needs: a function whose model does not
        declare it has no such part (a deployment bug, not a request's)."""
        if not isinstance(self.settings, settings_type):
            raise TypeError(f"{type(self.settings).__name__} declares no {what}")
        return self.settings

    def _client(self, service: str) -> object:
        return self._aws.create_client(service, config=AWS_CLIENT_CONFIG)

    @cached_property
    def _aws(self) -> botocore.session.Session:
        # botocore alone: boto3 adds only its resource layer, and its import, which we do not use.
        return botocore.session.get_session()

    @cached_property
    def logger(self) -> Logger:
        # Imported on first use: the authorizer logs only refusals, so an allowing cold start
        # never loads Powertools' logger (about 20 ms, `make bench`).
        from railguard.core.logs import build_logger  # noqa: PLC0415

        return build_logger(self.settings.service_name, self.settings.log_level)

    @cached_property
    def _dynamodb(self) -> DynamoDBClient:
        return cast("DynamoDBClient", self._client("dynamodb"))

    @cached_property
    def table(self) -> Table:
        return Table(self._dynamodb, self._declared(TableSettings, "table").table_name)

    @cached_property
    def audit_events(self) -> Table:
        """The audit table (the events; their heads are in `table`)."""
        settings = self._declared(AuditSettings, "audit table")
        return Table(self._dynamodb, settings.audit_table_name)

    @cached_property
    def audit_trail(self) -> StoredAuditTrail:
        from railguard.audit.trail import StoredAuditTrail  # noqa: PLC0415 - the authorizer never audits

        return StoredAuditTrail(self.audit_events, self.table, self.clock)

    @cached_property
    def audit_log(self) -> AuditLog:
        from railguard.audit.trail import AuditLog  # noqa: PLC0415 - only the trail's readers load it

        # A reader that only pages (a user's own events) declares no anchors.
        anchors = self.anchors if isinstance(self.settings, AnchorSettings) else None
        return AuditLog(self.audit_events, self.table, anchors)

    @cached_property
    def anchors(self) -> TrailAnchors:
        settings = self._declared(AnchorSettings, "anchor bucket")
        from railguard.audit.anchors import TrailAnchors  # noqa: PLC0415 - only anchors' users load it

        return TrailAnchors(self._client("s3"), settings.anchor_bucket_name)

    @cached_property
    def _kms(self) -> KMSClient:
        return cast("KMSClient", self._client("kms"))

    @cached_property
    def envelope(self) -> Envelope:
        settings = self._declared(EnvelopeSettings, "KMS key")
        # Imported here: most functions (the authorizer first) never encrypt, so never load it.
        from railguard.crypto.envelope import DataKeyCache, Envelope  # noqa: PLC0415

        return Envelope(self._kms, settings.kms_key_id, DataKeyCache(self.clock))

    @cached_property
    def idempotency_macs(self) -> KmsMac:
        """MACs under the KMS HMAC key that fingerprints Idempotency-Key requests."""
        settings = self._declared(IdempotencySettings, "idempotency MAC key")
        from railguard.crypto.envelope import KmsMac  # noqa: PLC0415 - only the creations load it

        return KmsMac(self._kms, settings.idempotency_mac_key_id)

    def keyed_hash(self, key_name: str) -> KeyedHash:
        """HMAC under the server key `key_name`, one per instance, so its key is unsealed once
        however many services use it."""
        if key_name not in self._keyed_hashes:
            from railguard.crypto.server_keys import KeyedHash, ServerKey  # noqa: PLC0415 - loads KMS

            server_key = ServerKey(self.table, self.envelope, self.clock, key_name)
            self._keyed_hashes[key_name] = KeyedHash(server_key)
        return self._keyed_hashes[key_name]

    @cached_property
    def event_bus(self) -> EventBus:
        settings = self._declared(EventBusSettings, "event bus")
        from railguard.core.events import EventBus  # noqa: PLC0415 - only publishers load it

        return EventBus(cast("EventBridgeClient", self._client("events")), settings.event_bus_name)
