"""The envelope's data-key cache, and nonce uniqueness, with a stand-in for KMS (no network):
repeated reads stay off KMS within the cache's bounds of age, uses and size, a cached key serves
only the owner it was unwrapped for, and evicted keys are overwritten: the cache's own buffer is
the one copy of a data key the envelope keeps and decrypts with."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from railguard.crypto.envelope import (
    DataKeyCache,
    DecryptionFailed,
    Envelope,
    SecretOwner,
    parse_envelope,
)
from tests.support.fake_time import FakeClock

OWNER = SecretOwner("credential", "ws_A", "cred_1")
OTHER_ITEM = SecretOwner("credential", "ws_A", "cred_2")
OTHER_WORKSPACE = SecretOwner("credential", "ws_B", "cred_1")
OTHER_PURPOSE = SecretOwner("webhook-secret", "ws_A", "cred_1")


class FakeKms:
    """Wraps a data key as (context, key) and refuses to unwrap it for another context, as KMS
    does with an encryption context."""

    def __init__(self) -> None:
        self.decrypts = 0

    def generate_data_key(self, **request: Any) -> dict[str, Any]:
        plaintext = secrets.token_bytes(32)
        wrapped = repr(sorted(request["EncryptionContext"].items())).encode() + b"|" + plaintext
        return {
            "KeyId": "arn:aws:kms:test:key/1",
            "Plaintext": plaintext,
            "CiphertextBlob": wrapped,
        }

    def decrypt(self, **request: Any) -> dict[str, Any]:
        self.decrypts += 1
        # The context first: a random data key may itself contain the separator.
        context, _, plaintext = request["CiphertextBlob"].partition(b"|")
        if context != repr(sorted(request["EncryptionContext"].items())).encode():
            raise DecryptionFailed
        return {"Plaintext": plaintext}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def kms() -> FakeKms:
    return FakeKms()


def _envelope(kms: FakeKms, clock: FakeClock, **bounds: Any) -> Envelope:
    return Envelope(kms, "alias/test", DataKeyCache(clock, **bounds))  # type: ignore[arg-type]


def test_repeated_reads_unwrap_once(kms: FakeKms, clock: FakeClock) -> None:
    envelope = _envelope(kms, clock)
    blob = envelope.encrypt(b"value", OWNER)
    assert {envelope.decrypt(blob, OWNER) for _ in range(100)} == {b"value"}
    assert kms.decrypts == 1


def test_a_cached_key_serves_only_its_owner(kms: FakeKms, clock: FakeClock) -> None:
    # Given an envelope whose key is cached for its owner
    envelope = _envelope(kms, clock)
    blob = envelope.encrypt(b"value", OWNER)
    envelope.decrypt(blob, OWNER)
    # When it is opened as another item's or another workspace's / Then it is refused
    for stranger in (OTHER_ITEM, OTHER_WORKSPACE):
        with pytest.raises(DecryptionFailed):
            envelope.decrypt(blob, stranger)


def test_keys_expire_by_age_and_by_uses(kms: FakeKms, clock: FakeClock) -> None:
    envelope = _envelope(kms, clock, max_age_seconds=60, max_uses=3)
    blob = envelope.encrypt(b"value", OWNER)
    for _ in range(3):
        envelope.decrypt(blob, OWNER)
    assert kms.decrypts == 1
    envelope.decrypt(blob, OWNER)  # the fourth use unwraps again
    assert kms.decrypts == 2
    clock.advance(61)
    envelope.decrypt(blob, OWNER)
    assert kms.decrypts == 3


def test_the_least_recently_used_key_is_evicted_and_wiped(clock: FakeClock) -> None:
    # Given a cache of two keys
    cache = DataKeyCache(clock, max_entries=2)
    cache.put(("k", b"a", b"{}"), b"\x01" * 32)
    first = cache.take(("k", b"a", b"{}"))
    assert first is not None
    cache.put(("k", b"b", b"{}"), b"\x02" * 32)
    # When a third arrives
    cache.put(("k", b"c", b"{}"), b"\x03" * 32)
    # Then the oldest is gone and its bytes were overwritten
    assert cache.take(("k", b"a", b"{}")) is None
    assert first == bytearray(32)
    assert len(cache) == 2


CACHE_KEY = ("k", b"wrapped", b"{}")


def _evict_by_age(cache: DataKeyCache, clock: FakeClock) -> None:
    clock.advance(61)
    assert cache.take(CACHE_KEY) is None


def _evict_by_uses(cache: DataKeyCache, _clock: FakeClock) -> None:
    assert cache.take(CACHE_KEY) is not None  # the third use of three (put and take counted)
    assert cache.take(CACHE_KEY) is None


def _evict_by_replacement(cache: DataKeyCache, _clock: FakeClock) -> None:
    cache.put(CACHE_KEY, b"\x02" * 32)


def _evict_by_clearing(cache: DataKeyCache, _clock: FakeClock) -> None:
    cache.clear()


@pytest.mark.parametrize(
    "evict",
    [_evict_by_age, _evict_by_uses, _evict_by_replacement, _evict_by_clearing],
    ids=["age", "uses", "replacement", "clear"],
)
def test_every_eviction_overwrites_the_caches_own_buffer(
    clock: FakeClock, evict: Callable[[DataKeyCache, FakeClock], None]
) -> None:
    # Given a cached key, and the buffer the cache hands out for it
    cache = DataKeyCache(clock, max_age_seconds=60, max_uses=3)
    cache.put(CACHE_KEY, b"\x01" * 32)
    buffer = cache.take(CACHE_KEY)
    assert buffer == bytearray(b"\x01" * 32)
    # When the key is evicted, whatever the reason
    evict(cache, clock)
    # Then that buffer now holds only zeros
    assert buffer == bytearray(32)


def test_finding_12_decryption_uses_only_the_caches_buffer_so_eviction_wipes_every_key_it_used(
    kms: FakeKms, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an envelope with a cache, and a record of every key AES-GCM is given to decrypt
    cache = DataKeyCache(clock)
    envelope = Envelope(kms, "alias/test", cache)  # type: ignore[arg-type]
    blob = envelope.encrypt(b"value", OWNER)
    keys_used: list[object] = []

    def recording_aesgcm(key: bytes | bytearray) -> AESGCM:
        keys_used.append(key)
        return AESGCM(key)

    monkeypatch.setattr("railguard.crypto.envelope.AESGCM", recording_aesgcm)
    # When the secret is read three times (one unwrap, then the cached key) and the cache cleared
    assert [envelope.decrypt(blob, OWNER) for _ in range(3)] == [b"value"] * 3
    assert kms.decrypts == 1
    cache.clear()
    # Then AES-GCM was given a key once, the cache's one buffer, whose cipher served all three
    # reads, and that buffer is now overwritten: no copy of the data key made here outlives the
    # eviction (KMS's own answer is another matter)
    assert len(keys_used) == 1
    assert keys_used[0] == bytearray(32)


def test_100000_encryptions_never_repeat_a_nonce(kms: FakeKms, clock: FakeClock) -> None:
    envelope = _envelope(kms, clock)
    nonces = {parse_envelope(envelope.encrypt(b"x", OWNER)).nonce for _ in range(100_000)}
    assert len(nonces) == 100_000


class CarelessKms(FakeKms):
    """A KMS that unwraps for any context: the GCM associated data must refuse on its own."""

    def decrypt(self, **request: Any) -> dict[str, Any]:
        self.decrypts += 1
        # The context first: a random data key may itself contain the separator.
        return {"Plaintext": request["CiphertextBlob"].partition(b"|")[2]}


@pytest.mark.parametrize("stranger", [OTHER_ITEM, OTHER_WORKSPACE], ids=["item", "workspace"])
def test_the_gcm_binding_alone_refuses_a_swapped_owner(stranger: SecretOwner) -> None:
    envelope = Envelope(CarelessKms(), "alias/test")  # type: ignore[arg-type]
    blob = envelope.encrypt(b"value", OWNER)
    with pytest.raises(DecryptionFailed):
        envelope.decrypt(blob, stranger)


@pytest.mark.parametrize(
    "stranger", [OTHER_ITEM, OTHER_WORKSPACE, OTHER_PURPOSE], ids=["item", "workspace", "purpose"]
)
def test_a_cached_key_is_never_served_to_another_owner_even_when_kms_would_unwrap(
    clock: FakeClock, stranger: SecretOwner
) -> None:
    # Given a KMS that unwraps for any context, and a secret whose key is cached for its owner
    kms = CarelessKms()
    envelope = Envelope(kms, "alias/test", DataKeyCache(clock))  # type: ignore[arg-type]
    blob = envelope.encrypt(b"value", OWNER)
    assert envelope.decrypt(blob, OWNER) == b"value"
    # When it is opened twice naming another owner (another item, workspace or purpose)
    for _ in range(2):
        with pytest.raises(DecryptionFailed):
            envelope.decrypt(blob, stranger)
    # Then the owner's cached key was not used for the stranger: its first read went to KMS (and
    # then the GCM binding refused it), while the owner still reads from the cache
    assert kms.decrypts == 2
    assert envelope.decrypt(blob, OWNER) == b"value"
    assert kms.decrypts == 2


def _altered(blob: bytes, spliced: bytes) -> dict[str, bytes]:
    """Every one-bit flip and every truncation of `blob`, and the other ways of altering it."""
    flips = {
        f"flip {index}": blob[:index] + bytes([blob[index] ^ 1 << index % 8]) + blob[index + 1 :]
        for index in range(len(blob))
    }
    truncations = {f"first {length} bytes": blob[:length] for length in range(len(blob))}
    parsed, other = parse_envelope(blob), parse_envelope(spliced)
    others = {
        "appended byte": blob + b"\x00",
        "doubled": blob + blob,
        "header spliced onto another's nonce and ciphertext": parsed.header
        + other.nonce
        + other.sealed,
        "another's header onto this nonce and ciphertext": other.header
        + parsed.nonce
        + parsed.sealed,
    }
    return flips | truncations | others


def test_with_its_key_cached_every_altered_envelope_is_refused(clock: FakeClock) -> None:
    # Given two secrets of one owner, both keys cached, under a KMS that unwraps for any context
    kms = CarelessKms()
    envelope = Envelope(kms, "alias/test", DataKeyCache(clock))  # type: ignore[arg-type]
    blob, other = envelope.encrypt(b"value", OWNER), envelope.encrypt(b"other", OWNER)
    assert (envelope.decrypt(blob, OWNER), envelope.decrypt(other, OWNER)) == (b"value", b"other")
    # When each alteration of the first (any bit of its header, nonce, ciphertext or tag, any
    # truncation, a splice with the second) is opened for the owner
    outcomes: dict[str, str] = {}
    for name, altered in _altered(blob, other).items():
        try:
            outcomes[name] = f"returned {envelope.decrypt(altered, OWNER)!r}"
        except DecryptionFailed:
            continue
        except Exception as error:  # noqa: BLE001 - any other exception is what the test reports
            outcomes[name] = f"raised {type(error).__name__}"
    # Then every one is DecryptionFailed, and both secrets still open from the cache
    assert outcomes == {}
    assert (envelope.decrypt(blob, OWNER), envelope.decrypt(other, OWNER)) == (b"value", b"other")


def test_a_cached_key_never_shows_its_bytes(clock: FakeClock) -> None:
    # Given a cached key
    cache = DataKeyCache(clock)
    cache.put(CACHE_KEY, bytes(range(32)))
    cached = cache.take(CACHE_KEY)
    # When it is written out, as a log line or a traceback would / Then its bytes are not there
    assert cached is not None
    assert repr(cached) == str(cached) == "CachedDataKey(<redacted>)"
