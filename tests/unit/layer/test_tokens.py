"""ES256 access tokens: what a valid token carries, and every way a forged, altered, stale or
foreign token is refused with `Unauthenticated`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import ECAlgorithm

from railguard.core.errors import Unauthenticated
from railguard.crypto.tokens import (
    ACCESS_TOKEN_TTL_SECONDS,
    CLOCK_SKEW_SECONDS,
    REQUIRED_CLAIMS,
    AccessClaims,
    SigningKey,
    TokenAudience,
    generate_private_key,
    issue_access_token,
    private_key_from_bytes,
    private_key_to_bytes,
    public_jwk,
    public_key_from_jwk,
    verify_access_token,
)

KID = "key-2026-01"
AUDIENCE = TokenAudience(issuer="https://auth.railguard.test", audience="railguard-api")
NOW = 1_800_000_000
USER_ID = "usr_01JABCDEF"
SESSION_ID = "ses_01JGHIJKL"


class _Drop:
    """A claim or header value meaning "leave this one out" (named in test ids: the same in
    every process, as pytest-xdist's workers need)."""

    def __repr__(self) -> str:
        return "DROP"


DROP = _Drop()

Lookup = Callable[[str], ec.EllipticCurvePublicKey | None]


# ------------------------------------------------------------------------------------ helpers


@pytest.fixture(scope="module")
def our_key() -> SigningKey:
    return SigningKey(KID, generate_private_key())


@pytest.fixture(scope="module")
def attacker_key() -> ec.EllipticCurvePrivateKey:
    return generate_private_key()


def _lookup(key: SigningKey) -> Lookup:
    """Our JWKS: the one public key, by its kid only."""
    return lambda kid: key.private_key.public_key() if kid == key.kid else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64_json(value: Any) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _es256(private_key: ec.EllipticCurvePrivateKey) -> Callable[[bytes], bytes]:
    return lambda signing_input: ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input, private_key)


def _hs256(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda signing_input: hmac.new(secret, signing_input, hashlib.sha256).digest()


def _header(**overrides: Any) -> dict[str, Any]:
    header = {"alg": "ES256", "typ": "at+jwt", "kid": KID, **overrides}
    return {name: value for name, value in header.items() if value is not DROP}


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = {
        "iss": AUDIENCE.issuer,
        "aud": AUDIENCE.audience,
        "sub": USER_ID,
        "sid": SESSION_ID,
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + ACCESS_TOKEN_TTL_SECONDS,
        "jti": "jti-handmade-0001",
        **overrides,
    }
    return {name: value for name, value in claims.items() if value is not DROP}


def _compact(
    header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes] | None
) -> str:
    """A JWS built by hand, so that every header and claim is exactly what the test says."""
    signing_input = f"{_b64_json(header)}.{_b64_json(claims)}"
    signature = sign(signing_input.encode()) if sign is not None else b""
    return f"{signing_input}.{_b64(signature)}"


def _ours(our_key: SigningKey, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """A token signed with our key whose header/claims differ from a valid one only as given."""
    return _compact(header or _header(), _claims(**claims), _es256(our_key.private_key))


def _verify(token: str, lookup: Lookup, *, now: float = NOW) -> AccessClaims:
    return verify_access_token(token, lookup, AUDIENCE, now=now)


def _issue(key: SigningKey, *, now: float = NOW) -> str:
    return issue_access_token(key, AUDIENCE, user_id=USER_ID, session_id=SESSION_ID, now=now)


def _payload(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(_unb64(token.split(".")[1]))
    return payload


# ------------------------------------------------------------------------------- valid tokens


def test_a_fresh_token_verifies_and_yields_its_claims(our_key: SigningKey) -> None:
    # Given a token issued now
    token = _issue(our_key)
    # When it is verified against our key at the same instant
    claims = _verify(token, _lookup(our_key))
    # Then the claims are the ones issued
    assert claims == AccessClaims(
        user_id=USER_ID,
        session_id=SESSION_ID,
        token_id=_payload(token)["jti"],
        issued_at=NOW,
        expires_at=NOW + ACCESS_TOKEN_TTL_SECONDS,
    )


def test_the_header_names_the_key_the_type_and_the_algorithm(our_key: SigningKey) -> None:
    # Given an issued token
    token = _issue(our_key)
    # When its header is read / Then it holds exactly kid, typ and alg (no key URL or key)
    assert jwt.get_unverified_header(token) == {"kid": KID, "typ": "at+jwt", "alg": "ES256"}


def test_the_claims_are_the_registered_ones_with_a_900_second_lifetime(
    our_key: SigningKey,
) -> None:
    # Given a token issued at a fractional instant
    token = _issue(our_key, now=NOW + 0.75)
    # When its payload is read
    payload = _payload(token)
    # Then it has every required claim, whole-second times, and exp = iat + 900
    assert set(payload) == set(REQUIRED_CLAIMS)
    assert payload["iss"] == AUDIENCE.issuer
    assert payload["aud"] == AUDIENCE.audience
    assert (payload["sub"], payload["sid"]) == (USER_ID, SESSION_ID)
    assert payload["iat"] == payload["nbf"] == NOW
    assert payload["exp"] == payload["iat"] + 900
    assert isinstance(payload["jti"], str)
    assert len(payload["jti"]) >= 16


def test_each_token_has_its_own_jti(our_key: SigningKey) -> None:
    # Given many tokens issued at the same instant for the same session
    tokens = [_issue(our_key) for _ in range(64)]
    # When their ids are collected / Then no two are equal
    assert len({_payload(token)["jti"] for token in tokens}) == len(tokens)


@pytest.mark.parametrize("offset", [0, 1, 450, ACCESS_TOKEN_TTL_SECONDS - 1, -CLOCK_SKEW_SECONDS])
def test_a_token_is_valid_until_just_before_exp(our_key: SigningKey, offset: int) -> None:
    # Given a token issued at NOW
    token = _issue(our_key)
    # When verified at NOW + offset (a negative offset: the verifier's clock is a little behind)
    claims = _verify(token, _lookup(our_key), now=NOW + offset)
    # Then it is accepted
    assert claims.user_id == USER_ID


def test_a_hand_built_token_with_every_claim_is_accepted(our_key: SigningKey) -> None:
    # Given the helper that builds the refused tokens below, with nothing altered
    token = _ours(our_key)
    # When verified / Then it is accepted: each refusal below is due to its one difference
    assert _verify(token, _lookup(our_key)).token_id == "jti-handmade-0001"


@pytest.mark.parametrize(("claim", "ahead"), [("nbf", 20), ("iat", 20), ("nbf", 30)])
def test_a_token_from_a_clock_slightly_ahead_is_accepted(
    our_key: SigningKey, claim: str, ahead: int
) -> None:
    # Given a token whose nbf (or iat) is a little ahead of our clock, within the skew
    claims: dict[str, Any] = {claim: NOW + ahead}
    if claim == "iat":
        claims |= {"nbf": NOW + ahead, "exp": NOW + ahead + ACCESS_TOKEN_TTL_SECONDS}
    token = _ours(our_key, **claims)
    # When verified at NOW / Then it is accepted
    assert _verify(token, _lookup(our_key)).user_id == USER_ID


# ----------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("offset", [ACCESS_TOKEN_TTL_SECONDS, ACCESS_TOKEN_TTL_SECONDS + 1, 86_400])
def test_an_expired_token_is_refused(our_key: SigningKey, offset: int) -> None:
    # Given a token issued at NOW
    token = _issue(our_key)
    # When verified at exp or later / Then it is refused
    with pytest.raises(Unauthenticated):
        _verify(token, _lookup(our_key), now=NOW + offset)


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", "usr_someone_else"),
        ("sid", "ses_another"),
        ("exp", NOW + ACCESS_TOKEN_TTL_SECONDS - 1),
        ("aud", "another-api"),
        ("jti", "replayed-id"),
    ],
)
def test_a_payload_altered_after_signing_is_refused(
    our_key: SigningKey, claim: str, value: Any
) -> None:
    # Given a valid token whose payload is rewritten, keeping the original signature
    token = _issue(our_key)
    header, _, signature = token.split(".")
    payload = _b64_json({**_payload(token), claim: value})
    # When verified / Then it is refused
    with pytest.raises(Unauthenticated):
        _verify(f"{header}.{payload}.{signature}", _lookup(our_key))


def _flip_bit(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _der(raw: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))


@pytest.mark.parametrize(
    "alter",
    [
        lambda sig: _flip_bit(sig, 0),
        lambda sig: _flip_bit(sig, 31),
        lambda sig: _flip_bit(sig, 32),
        lambda sig: _flip_bit(sig, 63),
        lambda sig: sig[:-1],
        lambda sig: sig + b"\x00",
        lambda sig: b"",
        lambda sig: bytes(64),  # r = s = 0: the "psychic signature"
        _der,  # the same signature, DER-encoded instead of JOSE's raw r || s
    ],
    ids=[
        "flip-r-first",
        "flip-r-last",
        "flip-s-first",
        "flip-s-last",
        "truncated",
        "extended",
        "empty",
        "zeros",
        "der",
    ],
)
def test_an_altered_signature_is_refused(
    our_key: SigningKey, alter: Callable[[bytes], bytes]
) -> None:
    # Given a valid token whose signature is altered
    header, payload, signature = _issue(our_key).split(".")
    token = f"{header}.{payload}.{_b64(alter(_unb64(signature)))}"
    # When verified / Then it is refused
    with pytest.raises(Unauthenticated):
        _verify(token, _lookup(our_key))


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("keep_signature", [False, True], ids=["empty-sig", "stale-sig"])
def test_an_unsigned_alg_none_token_is_refused(
    our_key: SigningKey, alg: str, keep_signature: bool
) -> None:
    # Given an unsigned token (alg none), with no signature or a signature left from a real one
    unsigned = _compact(_header(alg=alg), _claims(), None)
    if keep_signature:
        unsigned += _issue(our_key).split(".")[2]
    # When verified / Then it is refused
    with pytest.raises(Unauthenticated):
        _verify(unsigned, _lookup(our_key))


def _public_secrets(key: SigningKey) -> dict[str, bytes]:
    public = key.private_key.public_key()
    return {
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk": json.dumps(key.public_jwk()).encode(),
        "jwk-sorted": json.dumps(key.public_jwk(), sort_keys=True, separators=(",", ":")).encode(),
    }


@pytest.mark.parametrize("form", ["pem", "der", "jwk", "jwk-sorted"])
@pytest.mark.parametrize("alg", ["HS256", "ES256"])
def test_an_hmac_token_keyed_with_our_public_key_is_refused(
    our_key: SigningKey, form: str, alg: str
) -> None:
    # Given the key-confusion attack: HMAC-SHA256 keyed with our (public) key's bytes,
    # labelled HS256 or even ES256
    secret = _public_secrets(our_key)[form]
    token = _compact(_header(alg=alg), _claims(), _hs256(secret))
    # When verified / Then it is refused
    with pytest.raises(Unauthenticated):
        _verify(token, _lookup(our_key))


def _recording(key: SigningKey, seen: list[Any]) -> Lookup:
    def lookup(kid: str) -> ec.EllipticCurvePublicKey | None:
        seen.append(kid)
        return _lookup(key)(kid)

    return lookup


def _attacker_headers(attacker: ec.EllipticCurvePrivateKey) -> dict[str, dict[str, Any]]:
    attacker_jwk = public_jwk(KID, attacker.public_key())
    return {
        "kid-only": _header(),
        "jku": _header(jku="https://attacker.example/.well-known/jwks.json"),
        "x5u": _header(x5u="https://attacker.example/cert.pem"),
        "jwk": _header(jwk=attacker_jwk),
        "jwk-without-kid": _header(kid=DROP, jwk=attacker_jwk),
        "all-three": _header(
            jku="https://attacker.example/jwks.json",
            x5u="https://attacker.example/cert.pem",
            jwk=attacker_jwk,
        ),
    }


@pytest.mark.parametrize(
    "variant", ["kid-only", "jku", "x5u", "jwk", "jwk-without-kid", "all-three"]
)
def test_a_token_signed_by_another_key_is_refused_whatever_its_header_points_to(
    our_key: SigningKey, attacker_key: ec.EllipticCurvePrivateKey, variant: str
) -> None:
    # Given a token signed by the attacker's key, carrying our kid and maybe a key or key URL
    header = _attacker_headers(attacker_key)[variant]
    token = _compact(header, _claims(), _es256(attacker_key))
    seen: list[Any] = []
    # When verified
    with pytest.raises(Unauthenticated):
        _verify(token, _recording(our_key, seen))
    # Then the key was only ever looked up by kid among ours, never taken from the header
    assert all(kid == KID for kid in seen)


def test_a_token_signed_by_our_key_for_an_unknown_kid_is_refused(our_key: SigningKey) -> None:
    # Given a token signed with our private key but naming a kid our lookup does not know
    token = _issue(SigningKey("key-retired", our_key.private_key))
    seen: list[Any] = []
    # When verified / Then it is refused, after asking the lookup for that kid
    with pytest.raises(Unauthenticated):
        _verify(token, _recording(our_key, seen))
    assert seen == ["key-retired"]


@pytest.mark.parametrize(
    "kid",
    [DROP, None, 1, True, [KID], {"kid": KID}],
    ids=["missing", "null", "int", "bool", "list", "object"],
)
def test_a_kid_that_is_not_a_usable_string_is_refused(our_key: SigningKey, kid: Any) -> None:
    # Given a lookup that would hand out our key for anything, and a token signed with our key
    # whose kid is missing or not a string
    public = our_key.private_key.public_key()
    token = _compact(_header(kid=kid), _claims(), _es256(our_key.private_key))
    lookup: Lookup = lambda _kid: public  # noqa: E731
    # When verified / Then it is refused
    with pytest.raises(Unauthenticated):
        _verify(token, lookup)


@pytest.mark.parametrize(
    "claims",
    [
        {"nbf": NOW + 3600},
        {"nbf": NOW + CLOCK_SKEW_SECONDS + 1},
        {"nbf": NOW + 60},
        {"iat": NOW + 60, "nbf": NOW + 60, "exp": NOW + 60 + ACCESS_TOKEN_TTL_SECONDS},
        {"iat": NOW + 3600, "nbf": NOW, "exp": NOW + 3600 + ACCESS_TOKEN_TTL_SECONDS},
        {"iat": NOW + 3600, "nbf": NOW + 3600, "exp": NOW + 3600 + ACCESS_TOKEN_TTL_SECONDS},
    ],
    ids=["nbf+1h", "nbf-just-past-skew", "nbf+60s", "iat+60s", "iat+1h", "both+1h"],
)
def test_a_token_not_yet_valid_beyond_the_skew_is_refused(
    our_key: SigningKey, claims: dict[str, Any]
) -> None:
    # Given a token signed with our key whose nbf or iat is beyond the allowed clock skew
    token = _ours(our_key, **claims)
    # When verified at NOW / Then it is refused
    with pytest.raises(Unauthenticated):
        _verify(token, _lookup(our_key))


@pytest.mark.parametrize(
    "aud", ["another-api", "", "railguard-api-admin", "RAILGUARD-API", ["another-api"], None]
)
def test_a_token_for_another_audience_is_refused(our_key: SigningKey, aud: Any) -> None:
    # Given a token signed with our key for an audience other than ours
    token = _ours(our_key, aud=aud)
    # When verified / Then it is refused
    with pytest.raises(Unauthenticated):
        _verify(token, _lookup(our_key))


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.test",
        "",
        "https://auth.railguard.test.evil.test",
        "https://auth.railguard",  # a prefix of ours
        "auth.railguard.test",  # a substring of ours
        "HTTPS://AUTH.RAILGUARD.TEST",
        ["https://auth.railguard.test"],
        123,
    ],
)
def test_a_token_from_another_issuer_is_refused(our_key: SigningKey, iss: Any) -> None:
    # Given a token signed with our key naming an issuer other than exactly ours
    token = _ours(our_key, iss=iss)
    # When verified / Then it is refused
    with pytest.raises(Unauthenticated):
        _verify(token, _lookup(our_key))


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
@pytest.mark.parametrize("absence", [DROP, None], ids=["missing", "null"])
def test_a_token_missing_a_required_claim_is_refused(
    our_key: SigningKey, claim: str, absence: Any
) -> None:
    # Given a token signed with our key that lacks exactly one required claim (or nulls it)
    token = _ours(our_key, **{claim: absence})
    assert _payload(token).get(claim) is None
    # When verified / Then it is refused
    with pytest.raises(Unauthenticated):
        _verify(token, _lookup(our_key))


@pytest.mark.parametrize("typ", [DROP, "JWT", "jwt", "", None, "at+jwt ", "JOSE"], ids=repr)
def test_a_token_without_the_access_token_type_is_refused(our_key: SigningKey, typ: Any) -> None:
    # Given a token signed with our key whose typ is missing or not at+jwt (an ID token, say)
    token = _ours(our_key, header=_header(typ=typ))
    # When verified / Then it is refused
    with pytest.raises(Unauthenticated):
        _verify(token, _lookup(our_key))


@pytest.mark.parametrize("lifetime", [ACCESS_TOKEN_TTL_SECONDS + 1, 3600, 86_400 * 365])
def test_a_token_living_longer_than_900_seconds_is_refused(
    our_key: SigningKey, lifetime: int
) -> None:
    # Given a token signed with our key whose exp is more than 900 s after its iat
    token = _ours(our_key, exp=NOW + lifetime)
    # When verified (well before exp) / Then it is refused
    with pytest.raises(Unauthenticated):
        _verify(token, _lookup(our_key))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        # times that are not integers
        ("iat", NOW + 0.5),
        ("iat", float(NOW)),
        ("iat", str(NOW)),
        ("iat", [NOW]),
        ("nbf", NOW - 0.5),
        ("nbf", str(NOW)),
        ("exp", NOW + 600.5),
        ("exp", str(NOW + 600)),
        # identifiers that are not strings
        ("sub", 12345),
        ("sub", [USER_ID]),
        ("sid", 7),
        ("sid", {"id": SESSION_ID}),
        ("jti", 99),
    ],
)
def test_a_token_with_a_non_integer_time_or_a_non_string_identifier_is_refused(
    our_key: SigningKey, claim: str, value: Any
) -> None:
    # Given a token signed with our key whose iat, nbf or exp is not an integer, or whose sub,
    # sid or jti is not a string
    token = _ours(our_key, **{claim: value})
    # When verified / Then it is refused
    with pytest.raises(Unauthenticated):
        _verify(token, _lookup(our_key))


_GARBAGE = [
    "",
    "garbage",
    "a.b",
    "a.b.c",
    "a.b.c.d",
    "...",
    "eyJhbGciOiJFUzI1NiJ9",
    "eyJhbGciOiJFUzI1NiJ9..",
    f"{_b64(b'not json')}.{_b64_json({})}.",
    f"{_b64_json(['ES256'])}.{_b64_json({})}.",
    f"{_b64_json({'alg': ['ES256'], 'typ': 'at+jwt', 'kid': KID})}.{_b64_json({})}.AAAA",
    f"{_b64_json(_header())}.{_b64(b'not json')}.AAAA",
    f"{_b64_json(_header())}.{_b64_json([1, 2])}.AAAA",
    "tökén.ñö.ü",
    "\x00\x00.\x00.\x00",
    "x" * 10_000,
    ".".join(["e" * 4000] * 3),
]


@pytest.mark.parametrize("token", _GARBAGE, ids=lambda token: repr(token[:24]))
def test_garbage_is_refused_as_unauthenticated(our_key: SigningKey, token: str) -> None:
    # Given a string that is not a well-formed token / When verified / Then only Unauthenticated
    with pytest.raises(Unauthenticated):
        _verify(token, _lookup(our_key))


# ------------------------------------------------------------------------------------- keys


def test_the_public_jwk_round_trips_and_holds_no_private_part(our_key: SigningKey) -> None:
    # Given our key's published JWK
    jwk = our_key.public_jwk()
    # Then it describes a P-256 ES256 signing key, with no private scalar
    assert jwk == public_jwk(KID, our_key.private_key.public_key())
    assert {k: jwk[k] for k in ("kty", "crv", "kid", "use", "alg")} == {
        "kty": "EC",
        "crv": "P-256",
        "kid": KID,
        "use": "sig",
        "alg": "ES256",
    }
    assert "d" not in jwk
    # When it is loaded back / Then it is the same public key, and verifies our tokens
    restored = public_key_from_jwk(jwk)
    assert restored.public_numbers() == our_key.private_key.public_key().public_numbers()
    token = _issue(our_key)
    assert _verify(token, lambda kid: restored if kid == KID else None).user_id == USER_ID


def test_a_private_jwk_is_not_accepted_as_a_verification_key(our_key: SigningKey) -> None:
    # Given a JWK that carries the private scalar
    private_jwk = json.loads(ECAlgorithm.to_jwk(our_key.private_key))
    assert "d" in private_jwk
    # When loaded as a verification key / Then it is refused
    with pytest.raises(TypeError):
        public_key_from_jwk(private_jwk)


def test_the_private_key_bytes_round_trip(our_key: SigningKey) -> None:
    # Given our private key serialised for storage
    data = private_key_to_bytes(our_key.private_key)
    # When loaded back
    restored = private_key_from_bytes(data)
    # Then it is the same key: same numbers, and its tokens verify against the original public key
    assert restored.private_numbers() == our_key.private_key.private_numbers()
    assert private_key_to_bytes(restored) == data
    token = _issue(SigningKey(KID, restored))
    assert _verify(token, _lookup(our_key)).session_id == SESSION_ID


def test_private_key_bytes_of_another_key_type_are_refused() -> None:
    # Given the PKCS#8 bytes of an Ed25519 key
    data = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # When loaded as a signing key / Then it is refused
    with pytest.raises(TypeError):
        private_key_from_bytes(data)
