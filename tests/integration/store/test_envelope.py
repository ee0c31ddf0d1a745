"""Envelope encryption against the template's KMS key in moto: round trips, the version-1 format,
owner binding, and that every tampered, truncated or foreign envelope is the one
`DecryptionFailed` (never plaintext, never another exception). And MACs under the template's
KMS HMAC key."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from typing import Any

import pytest
from botocore.stub import Stubber

from railguard.core.errors import ServiceUnavailable
from railguard.crypto.envelope import (
    FORMAT_VERSION,
    MAX_MAC_MESSAGE_BYTES,
    NONCE_BYTES,
    DecryptionFailed,
    Envelope,
    KmsMac,
    SecretOwner,
    parse_envelope,
)
from tests.support.emulator import AwsEndpoint, Provisioning

OWNER = SecretOwner(purpose="signing_key", workspace_id="ws_01JENVELOPE", item_id="key-2026-01")
SHORT_SECRET = b"s3cr3t"
GCM_TAG_BYTES = 16


@pytest.fixture
def key_id(provisioned: Provisioning) -> str:
    return provisioned.intrinsics.physical["DataKey"].ref


@pytest.fixture
def kms(aws: AwsEndpoint) -> Any:
    return aws.client("kms")


@pytest.fixture
def envelope(kms: Any, key_id: str) -> Envelope:
    return Envelope(kms, key_id)


def _flip(blob: bytes, index: int, mask: int) -> bytes:
    return blob[:index] + bytes([blob[index] ^ mask]) + blob[index + 1 :]


def _outcome(envelope: Envelope, blob: bytes, owner: SecretOwner = OWNER) -> str:
    """What decrypting `blob` did: "refused" is the only acceptable answer for a bad envelope."""
    try:
        plaintext = envelope.decrypt(blob, owner)
    except DecryptionFailed:
        return "refused"
    except Exception as error:  # noqa: BLE001 - any other exception is what the test reports
        return f"raised {type(error).__name__}: {error}"
    return f"returned {plaintext!r}"


# ------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "plaintext",
    [b"", b"\x00", bytes(range(256)) * 256],
    ids=["empty", "one-byte", "64KiB"],
)
def test_a_secret_round_trips(envelope: Envelope, plaintext: bytes) -> None:
    # Given a secret sealed for an owner
    blob = envelope.encrypt(plaintext, OWNER)
    # When it is opened for the same owner / Then it is the same bytes
    assert envelope.decrypt(blob, OWNER) == plaintext
    # And the envelope is the header, a nonce and exactly the ciphertext plus its tag
    parsed = parse_envelope(blob)
    assert len(parsed.sealed) == len(plaintext) + GCM_TAG_BYTES
    if len(plaintext) >= GCM_TAG_BYTES:  # long enough that a chance match is impossible
        assert plaintext not in blob


def test_a_second_envelope_of_the_same_secret_differs(envelope: Envelope) -> None:
    # Given the same secret sealed twice for the same owner
    first = envelope.encrypt(SHORT_SECRET, OWNER)
    second = envelope.encrypt(SHORT_SECRET, OWNER)
    # Then each has its own data key and nonce, so the envelopes differ everywhere that matters
    one, two = parse_envelope(first), parse_envelope(second)
    assert first != second
    assert one.wrapped_key != two.wrapped_key
    assert one.nonce != two.nonce
    assert one.sealed != two.sealed
    assert envelope.decrypt(first, OWNER) == envelope.decrypt(second, OWNER) == SHORT_SECRET


def test_the_envelope_is_version_1_and_names_the_key_arn(
    envelope: Envelope, kms: Any, key_id: str
) -> None:
    # Given an envelope
    blob = envelope.encrypt(SHORT_SECRET, OWNER)
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    assert arn.startswith("arn:aws:kms:")
    # Then it starts with version byte 1 and the length-prefixed key ARN
    assert blob[0] == FORMAT_VERSION == 1
    assert blob[1:3] == struct.pack(">H", len(arn))
    assert blob[3 : 3 + len(arn)] == arn.encode()
    # And its parts add up: header, 12-byte nonce, ciphertext + 16-byte tag
    parsed = parse_envelope(blob)
    assert parsed.key_id == arn
    assert len(parsed.nonce) == NONCE_BYTES
    assert len(parsed.sealed) == len(SHORT_SECRET) + GCM_TAG_BYTES
    assert blob == parsed.header + parsed.nonce + parsed.sealed


# ----------------------------------------------------------------------------- owner binding


@pytest.mark.parametrize(
    "other",
    [
        SecretOwner("api_key", OWNER.workspace_id, OWNER.item_id),
        SecretOwner(OWNER.purpose, "ws_01JOTHER", OWNER.item_id),
        SecretOwner(OWNER.purpose, OWNER.workspace_id, "key-2026-02"),
        SecretOwner(OWNER.purpose, OWNER.workspace_id.upper(), OWNER.item_id),
        SecretOwner("", "", ""),
    ],
    ids=["purpose", "workspace_id", "item_id", "workspace_id-case", "empty"],
)
def test_an_envelope_does_not_open_for_another_owner(envelope: Envelope, other: Any) -> None:
    # Given a secret sealed for OWNER
    blob = envelope.encrypt(SHORT_SECRET, OWNER)
    # When it is opened naming another owner / Then it is refused
    with pytest.raises(DecryptionFailed):
        envelope.decrypt(blob, other)


def test_a_wrapped_key_spliced_from_another_envelope_is_refused(envelope: Envelope) -> None:
    # Given two envelopes for the same owner, and one built from the header (wrapped data key) of
    # the first and the nonce and ciphertext of the second
    first = parse_envelope(envelope.encrypt(SHORT_SECRET, OWNER))
    second = parse_envelope(envelope.encrypt(b"other!", OWNER))
    spliced = first.header + second.nonce + second.sealed
    # When it is opened / Then it is refused (KMS unwraps the key, but it is not this one's key)
    with pytest.raises(DecryptionFailed):
        envelope.decrypt(spliced, OWNER)


# ---------------------------------------------------------------------------------- tampering


def _region(index: int, blob: bytes) -> str:
    parsed = parse_envelope(blob)
    key_id_end = 3 + len(parsed.key_id.encode())
    nonce_start = len(parsed.header)
    tag_start = len(blob) - GCM_TAG_BYTES
    boundaries = [
        (1, "version"),
        (3, "key-id-length"),
        (key_id_end, "key-id"),
        (key_id_end + 2, "wrapped-key-length"),
        (nonce_start, "wrapped-key"),
        (nonce_start + NONCE_BYTES, "nonce"),
        (tag_start, "ciphertext"),
    ]
    return next((name for end, name in boundaries if index < end), "tag")


def test_flipping_any_bit_of_an_envelope_is_refused(envelope: Envelope) -> None:
    # Given the envelope of a short secret
    blob = envelope.encrypt(SHORT_SECRET, OWNER)
    assert {_region(index, blob) for index in range(len(blob))} == {
        "version",
        "key-id-length",
        "key-id",
        "wrapped-key-length",
        "wrapped-key",
        "nonce",
        "ciphertext",
        "tag",
    }
    # When each byte in turn has one bit flipped (bits 0..6 in rotation) and is opened
    outcomes = {
        index: _outcome(envelope, _flip(blob, index, 1 << (index % 7)))
        for index in range(len(blob))
    }
    # Then every one is DecryptionFailed: no plaintext, no other exception
    escaped = {
        f"{index} ({_region(index, blob)})": outcome
        for index, outcome in outcomes.items()
        if outcome != "refused"
    }
    assert escaped == {}


def test_every_truncation_of_an_envelope_is_refused(envelope: Envelope) -> None:
    # Given the envelope of a short secret
    blob = envelope.encrypt(SHORT_SECRET, OWNER)
    # When each of its proper prefixes is opened
    outcomes = {length: _outcome(envelope, blob[:length]) for length in range(len(blob))}
    # Then every one is DecryptionFailed
    assert {length: o for length, o in outcomes.items() if o != "refused"} == {}


@pytest.mark.parametrize("version", [0, 2, 0x7F, 0xFF])
def test_an_unknown_version_is_refused(envelope: Envelope, version: int) -> None:
    # Given an otherwise intact envelope whose version byte is not 1
    blob = envelope.encrypt(SHORT_SECRET, OWNER)
    # When it is parsed or opened / Then it is refused
    with pytest.raises(DecryptionFailed):
        parse_envelope(bytes([version]) + blob[1:])
    with pytest.raises(DecryptionFailed):
        envelope.decrypt(bytes([version]) + blob[1:], OWNER)


def _rebuilt(blob: bytes, *, key_id: bytes | None = None, wrapped: bytes | None = None) -> bytes:
    """The envelope with its key id or wrapped key replaced, lengths kept consistent."""
    parsed = parse_envelope(blob)
    key_id = parsed.key_id.encode() if key_id is None else key_id
    wrapped = parsed.wrapped_key if wrapped is None else wrapped
    return (
        bytes([FORMAT_VERSION])
        + struct.pack(">H", len(key_id))
        + key_id
        + struct.pack(">H", len(wrapped))
        + wrapped
        + parsed.nonce
        + parsed.sealed
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda blob: blob + b"\x00",
        lambda blob: blob + blob,
        lambda blob: _rebuilt(blob, wrapped=b""),
        lambda blob: _rebuilt(blob, wrapped=b"\x00"),
        lambda blob: _rebuilt(blob, wrapped=b"\x00" * 6145),
        lambda blob: _rebuilt(blob, key_id=b""),
        lambda blob: _rebuilt(blob, key_id=b"alias/aws/ebs"),
        lambda blob: _rebuilt(blob, key_id=b"11111111-2222-3333-4444-555555555555"),
        lambda blob: _rebuilt(blob, key_id=b"k" * 2049),
        lambda blob: _rebuilt(blob, key_id=b"\xff\xfe"),
    ],
    ids=[
        "appended-byte",
        "doubled",
        "empty-wrapped-key",
        "one-byte-wrapped-key",
        "oversized-wrapped-key",
        "empty-key-id",
        "alias-key-id",
        "unknown-key-id",
        "oversized-key-id",
        "non-utf8-key-id",
    ],
)
def test_a_structurally_altered_envelope_is_refused(envelope: Envelope, tamper: Any) -> None:
    # Given an envelope re-assembled with an altered part (lengths consistent, so it parses)
    altered = tamper(envelope.encrypt(SHORT_SECRET, OWNER))
    # When it is opened / Then it is DecryptionFailed, not a dependency failure or a crash
    assert _outcome(envelope, altered) == "refused"


def test_random_garbage_only_ever_fails_to_parse_as_decryption_failed() -> None:
    # Given deterministic random blobs, plain or starting with the right version byte
    rng = random.Random(20260101)
    blobs = [b"", b"\x01", b"\x01\x00", b"\x01\x00\x00\x00\x00"]
    for _ in range(3000):
        body = rng.randbytes(rng.randrange(0, 160))
        blobs.append(body)
        blobs.append(b"\x01" + body)
        # small lengths, so that parsing gets as far as the nonce and the ciphertext
        blobs.append(b"\x01" + struct.pack(">H", rng.randrange(0, 8)) + body)
    # When each is parsed / Then it is either an envelope or DecryptionFailed, nothing else
    other: dict[bytes, str] = {}
    for blob in blobs:
        try:
            parsed = parse_envelope(blob)
        except DecryptionFailed:
            continue
        except Exception as error:  # noqa: BLE001 - any other exception is the failure reported
            other[blob] = repr(error)
            continue
        assert len(parsed.nonce) == NONCE_BYTES
        assert len(parsed.sealed) >= GCM_TAG_BYTES
    assert other == {}


@pytest.mark.parametrize("blob", [b"", b"\x01", bytes(64), b"\x01" + b"\xff" * 40])
def test_garbage_is_refused_by_decrypt(envelope: Envelope, blob: bytes) -> None:
    assert _outcome(envelope, blob) == "refused"


# ------------------------------------------------------------------------------ KMS failures


_RETRYABLE_CODES = [
    "ThrottlingException",
    "KMSInternalException",
    "DependencyTimeoutException",
    "LimitExceededException",
]


@pytest.mark.parametrize("code", _RETRYABLE_CODES)
def test_a_kms_throttle_or_outage_on_decrypt_is_service_unavailable(
    envelope: Envelope, kms: Any, code: str
) -> None:
    # Given a real envelope, then KMS failing Decrypt with a retryable error
    blob = envelope.encrypt(SHORT_SECRET, OWNER)
    with Stubber(kms) as stubber:
        stubber.add_client_error("decrypt", service_error_code=code)
        # When it is opened / Then the caller sees ServiceUnavailable (503), not DecryptionFailed
        with pytest.raises(ServiceUnavailable):
            envelope.decrypt(blob, OWNER)
        stubber.assert_no_pending_responses()


# ------------------------------------------------------------------------------------ MACs


@pytest.fixture
def macs(kms: Any, provisioned: Provisioning) -> KmsMac:
    return KmsMac(kms, provisioned.intrinsics.physical["IdempotencyMacKey"].ref)


# What asks KMS for a new data key (a secret sealed) or for a MAC, and fails when KMS does.
_GENERATING_CALLS: dict[str, Callable[[Envelope, KmsMac], object]] = {
    "generate_data_key": lambda envelope, _macs: envelope.encrypt(SHORT_SECRET, OWNER),
    "generate_mac": lambda _envelope, macs: macs.of(b"request"),
}


@pytest.mark.parametrize("code", _RETRYABLE_CODES)
@pytest.mark.parametrize("operation", sorted(_GENERATING_CALLS))
def test_a_kms_throttle_or_outage_on_encrypt_or_a_mac_is_service_unavailable(
    envelope: Envelope, macs: KmsMac, kms: Any, code: str, operation: str
) -> None:
    # Given KMS failing GenerateDataKey or GenerateMac with a retryable error
    with Stubber(kms) as stubber:
        stubber.add_client_error(operation, service_error_code=code)
        # When a secret is sealed or a MAC asked for / Then the caller sees ServiceUnavailable (503)
        with pytest.raises(ServiceUnavailable):
            _GENERATING_CALLS[operation](envelope, macs)
        stubber.assert_no_pending_responses()


def test_a_mac_is_the_same_for_the_same_message_and_differs_for_another(macs: KmsMac) -> None:
    # Given messages of the shortest and longest lengths KMS takes
    short, longest = b"x", bytes(range(256)) * (MAX_MAC_MESSAGE_BYTES // 256)
    # When each is MACed twice, and a message one byte different once
    # Then the same message gives the same 256-bit MAC, another message another
    assert macs.of(short) == macs.of(short)
    assert len(bytes.fromhex(macs.of(longest))) == 32
    assert macs.of(longest) == macs.of(longest)
    assert macs.of(longest[:-1] + b"\x00") != macs.of(longest)


@pytest.mark.parametrize("size", [0, MAX_MAC_MESSAGE_BYTES + 1])
def test_a_message_kms_would_refuse_is_refused_before_calling_it(
    macs: KmsMac, kms: Any, size: int
) -> None:
    # Given KMS answering nothing (a call would fail the stubber)
    with Stubber(kms), pytest.raises(ValueError, match="4096"):
        # When a message KMS cannot MAC is given / Then it is refused here
        macs.of(b"m" * size)
