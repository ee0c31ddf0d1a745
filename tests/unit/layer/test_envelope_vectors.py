"""Project Wycheproof's AES-GCM vectors through the envelope's own decryption (`open_sealed`).

The envelope format allows one shape of AES-GCM: a 256-bit key, a 96-bit nonce and a 128-bit tag.
In that shape, every valid vector must give exactly its plaintext and every invalid one must be
refused. Every vector of another shape (AES-128/192, other nonce lengths), valid or not, must be
refused too: the format never opens what it would not have sealed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from railguard.crypto.envelope import DecryptionFailed, open_sealed

VECTORS = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "vectors"
    / "wycheproof_aes_gcm_test.json"
)


def _cases() -> list[Any]:
    if not VECTORS.exists():  # the vectors live beside the project, as CI provides them
        return [pytest.param(None, id="vectors-missing", marks=pytest.mark.skip("no vectors"))]
    document = json.loads(VECTORS.read_text())
    return [
        pytest.param(group, test, id=f"tc{test['tcId']}-k{group['keySize']}-iv{group['ivSize']}")
        for group in document["testGroups"]
        for test in group["tests"]
    ]


def _in_format(group: dict[str, Any]) -> bool:
    return (group["keySize"], group["ivSize"], group["tagSize"]) == (256, 96, 128)


@pytest.mark.parametrize(("group", "test"), _cases())
def test_a_wycheproof_vector_opens_exactly_or_is_refused(
    group: dict[str, Any], test: dict[str, Any]
) -> None:
    # Given a vector's key, nonce, associated data and ciphertext with its tag
    key, nonce = bytes.fromhex(test["key"]), bytes.fromhex(test["iv"])
    sealed = bytes.fromhex(test["ct"]) + bytes.fromhex(test["tag"])
    aad = bytes.fromhex(test["aad"])
    # When the envelope's decryption opens it
    # Then a valid vector of the format's shape gives exactly its plaintext, and anything else
    # (an invalid vector, or any vector of another shape) is the one DecryptionFailed
    if _in_format(group) and test["result"] == "valid":
        assert open_sealed(key, nonce, sealed, aad) == bytes.fromhex(test["msg"])
    else:
        with pytest.raises(DecryptionFailed):
            open_sealed(key, nonce, sealed, aad)


def test_the_vectors_cover_the_formats_shape() -> None:
    # Guards the test above against a vector file that would exercise nothing of our shape.
    if not VECTORS.exists():
        pytest.skip("no vectors beside the project")
    document = json.loads(VECTORS.read_text())
    ours = [t for g in document["testGroups"] if _in_format(g) for t in g["tests"]]
    assert sum(t["result"] == "valid" for t in ours) >= 30
    assert sum(t["result"] == "invalid" for t in ours) >= 20
