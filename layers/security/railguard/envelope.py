"""Envelope encryption: the only module that talks to KMS.

Each secret gets its own data key from KMS `GenerateDataKey` (AES-256). The secret is sealed with
AES-256-GCM under a fresh 96-bit nonce; only the KMS-wrapped data key is kept. The secret is bound
to its owner twice: the KMS encryption context (so KMS refuses to unwrap the key for another
owner) and the GCM associated data, which also covers the envelope's header.

Format, version 1 (all integers big-endian):

    0x01 | u16 len | KMS key id (UTF-8) | u16 len | wrapped data key | 12-byte nonce
         | ciphertext+tag

Every decryption failure is the same `DecryptionFailed`, with no partial plaintext.
"""

from __future__ import annotations

import json
import secrets
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from railguard.errors import ServiceUnavailable

if TYPE_CHECKING:
    from mypy_boto3_kms.client import KMSClient

FORMAT_VERSION = 1
NONCE_BYTES = 12
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


def _associated_data(header: bytes, owner: SecretOwner) -> bytes:
    canonical = json.dumps(owner.context(), sort_keys=True, separators=(",", ":"))
    return header + canonical.encode()


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


def parse_envelope(blob: bytes) -> ParsedEnvelope:
    """Split an envelope into its parts, refusing anything not exactly version 1's shape."""
    try:
        if blob[0] != FORMAT_VERSION:
            raise DecryptionFailed
        offset = 1
        (key_id_length,) = _U16.unpack_from(blob, offset)
        offset += _U16.size
        key_id = blob[offset : offset + key_id_length].decode()
        offset += key_id_length
        (wrapped_length,) = _U16.unpack_from(blob, offset)
        offset += _U16.size
        wrapped_key = blob[offset : offset + wrapped_length]
        offset += wrapped_length
        nonce = blob[offset : offset + NONCE_BYTES]
        sealed = blob[offset + NONCE_BYTES :]
    except (IndexError, struct.error, UnicodeDecodeError):
        raise DecryptionFailed from None
    if not (0 < key_id_length <= _MAX_KEY_ID_BYTES and 0 < wrapped_length <= _MAX_WRAPPED_BYTES):
        raise DecryptionFailed
    if len(wrapped_key) != wrapped_length or len(nonce) != NONCE_BYTES or len(sealed) < 16:
        raise DecryptionFailed
    return ParsedEnvelope(blob[:offset], key_id, wrapped_key, nonce, sealed)


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
    def __init__(self, kms: KMSClient, key_id: str):
        self._kms = kms
        self._key_id = key_id

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
        envelope = parse_envelope(blob)
        with _kms_errors(decrypting=True):
            unwrapped = self._kms.decrypt(
                CiphertextBlob=envelope.wrapped_key,
                KeyId=envelope.key_id,
                EncryptionContext=owner.context(),
            )
        try:
            return AESGCM(unwrapped["Plaintext"]).decrypt(
                envelope.nonce, envelope.sealed, _associated_data(envelope.header, owner)
            )
        except (InvalidTag, ValueError):
            raise DecryptionFailed from None
