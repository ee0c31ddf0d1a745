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
        return cast("DynamoDBClient", self._aws.create_client("dynamodb", config=AWS_CLIENT_CONFIG))

    @cached_property
    def table(self) -> Table:
        if not isinstance(self.settings, TableSettings):
            raise TypeError(f"{type(self.settings).__name__} declares no table")
        return Table(self._dynamodb, self.settings.table_name)

    @cached_property
    def audit_events(self) -> Table:
        """The audit table (the events; their heads are in `table`)."""
        if not isinstance(self.settings, AuditSettings):
            raise TypeError(f"{type(self.settings).__name__} declares no audit table")
        return Table(self._dynamodb, self.settings.audit_table_name)

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
        if not isinstance(self.settings, AnchorSettings):
            raise TypeError(f"{type(self.settings).__name__} declares no anchor bucket")
        from railguard.audit.anchors import TrailAnchors  # noqa: PLC0415 - only anchors' users load it

        client = self._aws.create_client("s3", config=AWS_CLIENT_CONFIG)
        return TrailAnchors(client, self.settings.anchor_bucket_name)

    @cached_property
    def _kms(self) -> KMSClient:
        return cast("KMSClient", self._aws.create_client("kms", config=AWS_CLIENT_CONFIG))

    @cached_property
    def envelope(self) -> Envelope:
        if not isinstance(self.settings, EnvelopeSettings):
            raise TypeError(f"{type(self.settings).__name__} declares no KMS key")
        # Imported here: most functions (the authorizer first) never encrypt, so never load it.
        from railguard.crypto.envelope import DataKeyCache, Envelope  # noqa: PLC0415

        return Envelope(self._kms, self.settings.kms_key_id, DataKeyCache(self.clock))

    @cached_property
    def idempotency_macs(self) -> KmsMac:
        """MACs under the KMS HMAC key that fingerprints Idempotency-Key requests."""
        if not isinstance(self.settings, IdempotencySettings):
            raise TypeError(f"{type(self.settings).__name__} declares no idempotency MAC key")
        from railguard.crypto.envelope import KmsMac  # noqa: PLC0415 - only the creations load it

        return KmsMac(self._kms, self.settings.idempotency_mac_key_id)

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
        if not isinstance(self.settings, EventBusSettings):
            raise TypeError(f"{type(self.settings).__name__} declares no event bus")
        from railguard.core.events import EventBus  # noqa: PLC0415 - only publishers load it

        client = cast(
            "EventBridgeClient", self._aws.create_client("events", config=AWS_CLIENT_CONFIG)
        )
        return EventBus(client, self.settings.event_bus_name)
