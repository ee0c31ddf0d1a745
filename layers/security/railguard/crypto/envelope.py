"""Envelope encryption, and MACs under a KMS HMAC key: the only module that talks to KMS.

Each secret gets its own data key from KMS `GenerateDataKey` (AES-256). The secret is sealed with
AES-256-GCM under a fresh 96-bit nonce; only the KMS-wrapped data key is kept. The secret is bound
to its owner twice: the KMS encryption context (so KMS refuses to unwrap the key for another
owner) and the GCM associated data, which also covers the envelope's header.

Format, version 1 (all integers big-endian):

    0x01 | u16 len | KMS key id (UTF-8) | u16 len | wrapped data key | 12-byte nonce
         | ciphertext+tag

Every decryption failure is the same `DecryptionFailed`, with no partial plaintext.

Unwrapped data keys are cached (`DataKeyCache`) for a bounded time and number of uses, so reading
the same secret again does not call KMS. A cached key is filed under the associated data it opens
(the envelope's header, which names the KMS key and holds the wrapped key, then the owner's
canonical context), with the AES-GCM cipher made from it once: a cached key only ever opens
envelopes with exactly that header for exactly that owner, and reading a cached secret is parsing
two lengths, one lookup and AES-GCM. Encryption never reuses a data key: each secret gets its own.

Key material in memory (best effort; the cache's bounds on age and uses are the real limit):
- Overwritten: the cache's own copy of each data key, a `bytearray` it owns, zeroed in place
  when the key is evicted (age, uses, size, replacement or `clear`). The cache hands that very
  buffer to AES-GCM, so this module keeps no other copy of an unwrapped key.
- Not overwritten, because Python cannot: what KMS answered. botocore reads the response body,
  parses its JSON and base64-decodes `Plaintext` into `bytes`; those are immutable, and CPython
  frees them without clearing the memory. The same holds for `GenerateDataKey`'s plaintext key
  when encrypting, and for the plaintext secrets this module returns.
- Left to OpenSSL: each `AESGCM` object copies the key into its own OpenSSL cipher contexts
  (the key schedule), which OpenSSL clears when they are freed. A cached key's cipher is freed
  with the key, when it is evicted (or when a decryption under way with it ends); an uncached
  one at the end of its call.
"""

from __future__ import annotations

import json
import secrets
import struct
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from railguard.core.clock import Clock
from railguard.core.errors import ServiceUnavailable

if TYPE_CHECKING:
    from mypy_boto3_kms.client import KMSClient

FORMAT_VERSION = 1
MAC_ALGORITHM: Final = "HMAC_SHA_256"
MAX_MAC_MESSAGE_BYTES = 4096  # KMS's bound on what GenerateMac covers
NONCE_BYTES = 12
DATA_KEY_BYTES = 32  # AES-256
_U16 = struct.Struct(">H")
# KMS's own bounds on a key id and on a ciphertext blob.
_MAX_KEY_ID_BYTES = 2048
_MAX_WRAPPED_BYTES = 6144
_RETRYABLE_KMS_CODES = frozenset(
    {
        "ThrottlingException",
        "KMSInternalException",
        "DependencyTimeoutException",
        "LimitExceededException",
        "ServiceUnavailable",
    }
)


class DecryptionFailed(Exception):
    """The envelope is tampered with, for another owner, of an unknown version, or unreadable."""

    def __init__(self) -> None:
        super().__init__("the secret could not be decrypted")


@dataclass(frozen=True)
class SecretOwner:
    """What a secret belongs to; the same owner must be named to decrypt it."""

    purpose: str
    workspace_id: str
    item_id: str

    def context(self) -> dict[str, str]:
        return {"purpose": self.purpose, "workspace_id": self.workspace_id, "item_id": self.item_id}


@lru_cache(maxsize=4096)
def _canonical_context(purpose: str, workspace_id: str, item_id: str) -> bytes:
    """The owner as the associated data names it (computed once per owner, not per call)."""
    context = {"purpose": purpose, "workspace_id": workspace_id, "item_id": item_id}
    return json.dumps(context, sort_keys=True, separators=(",", ":")).encode()


def _associated_data(header: bytes, owner: SecretOwner) -> bytes:
    return header + _canonical_context(owner.purpose, owner.workspace_id, owner.item_id)


def _opened(cipher: AESGCM, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    try:
        return cipher.decrypt(nonce, sealed, aad)
    except (InvalidTag, ValueError):
        raise DecryptionFailed from None


def open_sealed(data_key: bytes | bytearray, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """AES-256-GCM decryption as this format allows it (a 256-bit key, a 96-bit nonce, a 128-bit
    tag); anything else, or any tampered byte, is `DecryptionFailed` with no plaintext."""
    if len(data_key) != DATA_KEY_BYTES or len(nonce) != NONCE_BYTES or len(sealed) < 16:
        raise DecryptionFailed
    # The caller's buffer itself, never a `bytes` copy of it that nobody could overwrite.
    return _opened(AESGCM(data_key), nonce, sealed, aad)


class CachedDataKey(bytearray):
    """A cached data key: the cache's own buffer of it (zeroed when it is evicted), the AES-GCM
    cipher made from that buffer once, when it was unwrapped and how often it has been used."""

    __slots__ = ("cipher", "loaded_at", "uses")

    def __init__(self, material: bytes, loaded_at: float) -> None:
        super().__init__(material)
        # The buffer itself, never a `bytes` copy of it that nobody could overwrite.
        self.cipher = AESGCM(self)
        self.loaded_at = loaded_at
        self.uses = 1

    def __repr__(self) -> str:
        return "CachedDataKey(<redacted>)"  # never the key's bytes, in a log or a traceback

    __str__ = __repr__


class DataKeyCache:
    """Unwrapped data keys, for at most `max_age_seconds` and `max_uses` decryptions each, the
    least recently used evicted first. The envelope files each key under the associated data it
    opens, which names the owner, so a cached key is only ever used for the owner KMS unwrapped it
    for. Each key is kept in one `bytearray` the cache owns, the buffer `take` and `put` return
    (with its cipher), and zeroed in place when it is evicted (what that does and does not cover:
    the module's docstring)."""

    def __init__(
        self,
        clock: Clock,
        *,
        max_age_seconds: float = 300,
        max_uses: int = 10_000,
        max_entries: int = 1_000,
    ):
        self._clock = clock
        self._max_age = max_age_seconds
        self._max_uses = max_uses
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, CachedDataKey] = OrderedDict()

    def take(self, key: Hashable) -> CachedDataKey | None:
        """The data key, counting one use; None when absent, too old or used up."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock.now() - entry.loaded_at >= self._max_age or entry.uses >= self._max_uses:
            self._evict(key)
            return None
        entry.uses += 1
        self._entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, material: bytes) -> CachedDataKey:
        """Keep a copy of `material` (counting one use) and return it: the buffer to use, which
        the cache overwrites on eviction, and its cipher."""
        if key in self._entries:
            self._evict(key)
        owned = self._entries[key] = CachedDataKey(material, self._clock.now())
        while len(self._entries) > self._max_entries:
            self._evict(next(iter(self._entries)))
        return owned

    def clear(self) -> None:
        for key in list(self._entries):
            self._evict(key)

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        entry[:] = bytes(len(entry))


def _header(key_id: str, wrapped_key: bytes) -> bytes:
    encoded_key_id = key_id.encode()
    return (
        bytes([FORMAT_VERSION])
        + _U16.pack(len(encoded_key_id))
        + encoded_key_id
        + _U16.pack(len(wrapped_key))
        + wrapped_key
    )


@dataclass(frozen=True)
class ParsedEnvelope:
    header: bytes
    key_id: str
    wrapped_key: bytes
    nonce: bytes
    sealed: bytes


def _lengths(blob: bytes) -> tuple[int, int]:
    """The lengths version 1's header states for its key id and its wrapped key, unchecked (the
    header is 5 bytes longer than the two together); IndexError when the blob ends first."""
    key_id_length = blob[1] << 8 | blob[2]
    wrapped_at = 3 + key_id_length
    return key_id_length, blob[wrapped_at] << 8 | blob[wrapped_at + 1]


def parse_envelope(blob: bytes) -> ParsedEnvelope:
    """Split an envelope into its parts, refusing anything not exactly version 1's shape."""
    try:
        if blob[0] != FORMAT_VERSION:
            raise DecryptionFailed
        key_id_length, wrapped_length = _lengths(blob)
        key_id = blob[3 : 3 + key_id_length].decode()
    except (IndexError, UnicodeDecodeError):
        raise DecryptionFailed from None
    if not (0 < key_id_length <= _MAX_KEY_ID_BYTES and 0 < wrapped_length <= _MAX_WRAPPED_BYTES):
        raise DecryptionFailed
    header_length = 5 + key_id_length + wrapped_length
    wrapped_key = blob[5 + key_id_length : header_length]
    nonce = blob[header_length : header_length + NONCE_BYTES]
    sealed = blob[header_length + NONCE_BYTES :]
    if len(wrapped_key) != wrapped_length or len(nonce) != NONCE_BYTES or len(sealed) < 16:
        raise DecryptionFailed
    return ParsedEnvelope(blob[:header_length], key_id, wrapped_key, nonce, sealed)


# What KMS answers when a wrapped key (or the key id beside it) has been tampered with: the
# envelope is bad, not the service. (For GenerateDataKey the same codes are deployment bugs.)
_BAD_ENVELOPE_KMS_CODES = frozenset(
    {
        "InvalidCiphertextException",
        "IncorrectKeyException",
        "NotFoundException",
        "AccessDeniedException",
        "KMSInvalidStateException",
        "DisabledException",
        "ValidationException",
    }
)


@contextmanager
def _kms_errors(*, decrypting: bool) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _RETRYABLE_KMS_CODES:
            raise ServiceUnavailable from error
        if decrypting and code in _BAD_ENVELOPE_KMS_CODES:
            raise DecryptionFailed from None
        raise
    except ParamValidationError:
        if decrypting:
            raise DecryptionFailed from None
        raise
    except BotoCoreError as error:
        raise ServiceUnavailable from error


class Envelope:
    def __init__(self, kms: KMSClient, key_id: str, cache: DataKeyCache | None = None):
        self._kms = kms
        self._key_id = key_id
        self._cache = cache
        self._key_arn: str | None = None

    def key_arn(self) -> str:
        """The ARN of the key new secrets are sealed under: what their envelopes name."""
        if self._key_arn is None:
            with _kms_errors(decrypting=False):
                metadata = self._kms.describe_key(KeyId=self._key_id)["KeyMetadata"]
            self._key_arn = metadata["Arn"]
        return self._key_arn

    def encrypt(self, plaintext: bytes, owner: SecretOwner) -> bytes:
        with _kms_errors(decrypting=False):
            data_key = self._kms.generate_data_key(
                KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=owner.context()
            )
        # KeyId comes back as the key's ARN: the envelope names exactly which key wrapped it.
        header = _header(data_key["KeyId"], data_key["CiphertextBlob"])
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(data_key["Plaintext"]).encrypt(
            nonce, plaintext, _associated_data(header, owner)
        )
        return header + nonce + sealed

    def decrypt(self, blob: bytes, owner: SecretOwner) -> bytes:
        if self._cache is None:
            envelope = parse_envelope(blob)
            aad = _associated_data(envelope.header, owner)
            return open_sealed(self._unwrap(envelope, owner), envelope.nonce, envelope.sealed, aad)
        try:
            key_id_length, wrapped_length = _lengths(blob)
        except IndexError:
            raise DecryptionFailed from None
        nonce_at = 5 + key_id_length + wrapped_length
        sealed_at = nonce_at + NONCE_BYTES
        if len(blob) < sealed_at + 16:  # a nonce and at least a tag after the header
            raise DecryptionFailed
        # The cache key is the associated data itself: the header, read by its lengths alone,
        # then the owner. A key is cached only under a header that passed every check of
        # `parse_envelope` and that KMS unwrapped for this owner, so a hit is exactly that header
        # for exactly that owner; anything else misses and is checked in full.
        aad = _associated_data(blob[:nonce_at], owner)
        data_key = self._cache.take(aad)
        if data_key is None:
            envelope = parse_envelope(blob)
            unwrapped = self._unwrap(envelope, owner)
            if len(unwrapped) != DATA_KEY_BYTES:
                raise DecryptionFailed
            # The cache's own buffer (overwritten on eviction), never another copy of KMS's bytes.
            data_key = self._cache.put(aad, unwrapped)
        return _opened(data_key.cipher, blob[nonce_at:sealed_at], blob[sealed_at:], aad)

    def _unwrap(self, envelope: ParsedEnvelope, owner: SecretOwner) -> bytes:
        with _kms_errors(decrypting=True):
            unwrapped = self._kms.decrypt(
                CiphertextBlob=envelope.wrapped_key,
                KeyId=envelope.key_id,
                EncryptionContext=owner.context(),
            )
        return unwrapped["Plaintext"]


class KmsMac:
    """HMAC-SHA256 under a KMS HMAC key (`HMAC_256`, `GENERATE_VERIFY_MAC`). Its key never leaves
    KMS, so no role holds it: making a MAC, hence confirming a guess of what one covers, is a
    `GenerateMac` call each time (online, throttled, in CloudTrail), never an offline search."""

    def __init__(self, kms: KMSClient, key_id: str):
        self._kms = kms
        self._key_id = key_id

    def of(self, message: bytes) -> str:
        """The MAC of `message` (1 to 4,096 bytes: MAC a digest of anything longer), in hex."""
        if not 0 < len(message) <= MAX_MAC_MESSAGE_BYTES:
            raise ValueError(f"a KMS MAC covers 1 to {MAX_MAC_MESSAGE_BYTES} bytes")
        with _kms_errors(decrypting=False):
            reply = self._kms.generate_mac(
                KeyId=self._key_id, Message=message, MacAlgorithm=MAC_ALGORITHM
            )
        return reply["Mac"].hex()
