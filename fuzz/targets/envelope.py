"""The envelope format: `parse_envelope` on any blob, `Envelope.decrypt` on a real envelope
altered, and `open_sealed` on any key, nonce, ciphertext and associated data.

KMS is an in-memory stand-in with KMS's contract: it unwraps only a data key it wrapped, under
the key id and encryption context it wrapped it for, and refuses anything else with
`InvalidCiphertextException`.

Input: one byte for the mode, then its data. Mode 0: the data is a blob to parse and decrypt.
Mode 1: a real envelope with the data's edits (`_inputs.mutated`). Mode 2: key, nonce, sealed
bytes and associated data, NUL-separated, for `open_sealed`.

Property: `DecryptionFailed` or the result. A parsed envelope is exactly its parts; an envelope
opens only unchanged and for its own owner, and then gives exactly what was sealed.
"""

from __future__ import annotations

import secrets
from typing import Any

from botocore.exceptions import ClientError

from fuzz.targets._inputs import check, fields, mutated
from railguard.crypto.envelope import (
    DecryptionFailed,
    Envelope,
    SecretOwner,
    open_sealed,
    parse_envelope,
)

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000"
OWNER = SecretOwner("webhook-secret", "ws_fuzz", "trg_fuzz")
OTHER_OWNER = SecretOwner("webhook-secret", "ws_fuzz", "trg_other")
PLAINTEXT = b"whsec_plaintext-sealed-by-the-harness"


class _StandInKms:
    """KMS's contract for data keys, in memory."""

    def __init__(self) -> None:
        self._wrapped: dict[tuple[bytes, str, tuple[tuple[str, str], ...]], bytes] = {}

    def generate_data_key(self, **request: Any) -> dict[str, Any]:
        plaintext, wrapped = secrets.token_bytes(32), secrets.token_bytes(56)
        context = tuple(sorted(request["EncryptionContext"].items()))
        self._wrapped[wrapped, KEY_ARN, context] = plaintext
        return {"KeyId": KEY_ARN, "CiphertextBlob": wrapped, "Plaintext": plaintext}

    def decrypt(self, **request: Any) -> dict[str, Any]:
        context = tuple(sorted(request["EncryptionContext"].items()))
        found = self._wrapped.get((bytes(request["CiphertextBlob"]), request["KeyId"], context))
        if found is None:
            error = {"Error": {"Code": "InvalidCiphertextException", "Message": "refused"}}
            raise ClientError(error, "Decrypt")  # type: ignore[arg-type]
        return {"Plaintext": found}


_ENVELOPE = Envelope(_StandInKms(), KEY_ARN)  # type: ignore[arg-type]
_SEALED = _ENVELOPE.encrypt(PLAINTEXT, OWNER)


def _opens(blob: bytes, owner: SecretOwner) -> bytes | None:
    try:
        return _ENVELOPE.decrypt(blob, owner)
    except DecryptionFailed:
        return None


def _check_blob(blob: bytes) -> None:
    try:
        parsed = parse_envelope(blob)
    except DecryptionFailed:
        check(_opens(blob, OWNER) is None, "an envelope that does not parse opened")
        return
    check(parsed.header + parsed.nonce + parsed.sealed == blob, "the parts are not the blob")
    check(parsed.header.endswith(parsed.wrapped_key), "the header ends with the wrapped key")
    opened = _opens(blob, OWNER)
    check(opened is None or (blob == _SEALED and opened == PLAINTEXT), "a changed envelope opened")
    check(_opens(blob, OTHER_OWNER) is None, "an envelope opened for another owner")


def one_input(data: bytes) -> None:
    mode, rest = (data[0] % 3, data[1:]) if data else (0, b"")
    if mode == 0:
        _check_blob(rest)
    elif mode == 1:
        _check_blob(mutated(_SEALED, rest))
    else:
        key, nonce, sealed, associated_data = fields(rest, 4)
        try:
            open_sealed(key, nonce, sealed, associated_data)
        except DecryptionFailed:
            return
        check(False, "open_sealed opened what nobody sealed")
