"""A stack's server keys as its functions unseal them, for tests that recompute what is stored
under one (and show that nothing stored can be recomputed without it)."""

from __future__ import annotations

from railguard.core.clock import SystemClock
from railguard.crypto.envelope import DataKeyCache, Envelope
from railguard.crypto.server_keys import KeyedHash, ServerKey
from railguard.store import Table
from tests.support.emulator import AwsEndpoint, Provisioning


def keyed_hash(aws: AwsEndpoint, provisioned: Provisioning, table: Table, name: str) -> KeyedHash:
    key_id = provisioned.intrinsics.physical["DataKey"].ref
    envelope = Envelope(aws.client("kms"), key_id, DataKeyCache(SystemClock()))
    return KeyedHash(ServerKey(table, envelope, SystemClock(), name))
