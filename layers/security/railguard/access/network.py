"""Network restrictions a client may set on a credential: the source IPs it may be used from and
the browser origins it may be used by; and what a per-address budget counts a source address as.

Both lists are written by clients and enforced by the authorizer, so parsing is strict (a
permissive parser that reads `010.0.0.1` as 8.0.0.1, or `https://a.test:443@evil.test` as
a.test, turns a typo or a trick into a hole) and every entry is stored in one canonical form, so
enforcement is a cheap exact comparison. The authorizer imports this module on its cold start:
standard library only, and nothing done at import time.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from railguard.core.errors import ValidationFailed

MAX_ALLOWED_IPS = 100
MAX_ALLOWED_ORIGINS = 20

_IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAX_IP_TEXT = 64  # longest IPv6 text with prefix is 49 characters
_MAX_ORIGIN_TEXT = 255  # so a host is at most 247 characters, under DNS's 253
_MAX_PORT = 65535
_MAX_LABEL = 63
_MAPPED_PREFIX = 96  # ::ffff:0:0/96 holds the IPv4-mapped addresses
_DECIMAL = frozenset("0123456789")
_IP_CHARS = frozenset("0123456789abcdefABCDEF.:")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_HEX = frozenset("0123456789abcdefABCDEF")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_DEFAULT_PORTS = {"https": "443", "http": "80"}
_ORIGIN_HOST_END = frozenset("/?#@\\")


class _Refused(ValueError):
    """Internal: why one entry is refused. Callers turn it into ValidationFailed with details."""


# ---------------------------------------------------------------------------------------------
# IP allowlists


def _decimal_problem(text: str) -> str | None:
    """What ipaddress may not check itself: ASCII digits only, and no leading zero."""
    if not text or not _DECIMAL.issuperset(text):
        return "it is not a decimal number"
    if len(text) > 1 and text[0] == "0":
        return "it has a leading zero"
    return None


def _check_ipv4_text(text: str) -> None:
    """Leading zeros are refused explicitly: some parsers read `010` as octal 8."""
    octets = text.split(".")
    if len(octets) != 4 or any(not octet or not _DECIMAL.issuperset(octet) for octet in octets):
        raise _Refused("is not a valid IPv4 address")
    if any(len(octet) > 1 and octet[0] == "0" for octet in octets):
        raise _Refused("has a leading zero in an IPv4 octet")


def _parse_address_text(text: str) -> _IpAddress:
    if not text:
        raise _Refused("has no address")
    if not _IP_CHARS.issuperset(text):
        raise _Refused("is not an IP address or CIDR range (hostnames are not accepted)")
    if ":" in text:
        tail = text.rsplit(":", 1)[1]
        if "." in tail:  # an embedded IPv4 address, as in ::ffff:192.0.2.1
            _check_ipv4_text(tail)
    elif "." in text:
        _check_ipv4_text(text)
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise _Refused("is not a valid IPv4 or IPv6 address") from None


def _check_text(value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise _Refused("must be a string")
    if not value:
        raise _Refused("must not be empty")
    if len(value) > limit:
        raise _Refused(f"must be at most {limit} characters")
    return value


def _parse_prefix(text: str, address: _IpAddress) -> int:
    problem = _decimal_problem(text)
    if problem is None and int(text) > address.max_prefixlen:
        problem = f"IPv{address.version} allows at most /{address.max_prefixlen}"
    if problem is not None:
        raise _Refused(f"has a bad prefix: {problem}")
    return int(text)


def _parse_ip_entry(value: object) -> _IpNetwork:
    """One entry as a network; an IPv4-mapped IPv6 entry comes back as its IPv4 network."""
    value = _check_text(value, _MAX_IP_TEXT)
    if any(char.isspace() for char in value):
        raise _Refused("must not contain whitespace")
    if "%" in value:
        raise _Refused("must not have an IPv6 zone id ('%...')")
    address_text, slash, prefix_text = value.partition("/")
    if "/" in prefix_text:
        raise _Refused("has more than one '/'")
    address = _parse_address_text(address_text)
    prefix = _parse_prefix(prefix_text, address) if slash else address.max_prefixlen
    # Clients arrive as IPv4 when API Gateway sees IPv4, so a mapped entry is kept as IPv4; one
    # shorter than /96 would also cover IPv6 space that is not mapped, so its meaning is unclear.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    if mapped is not None:
        if prefix < _MAPPED_PREFIX:
            raise _Refused("is an IPv4-mapped IPv6 range shorter than /96; write it as IPv4")
        address, prefix = mapped, prefix - _MAPPED_PREFIX
    network = ipaddress.ip_network((address, prefix), strict=False)
    if network.network_address != address:
        raise _Refused(f"has host bits set (the network is {network})")
    return network


def _canonical_ip(network: _IpNetwork) -> str:
    """A single address is written alone; a network as `address/prefix`."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def _details(field_name: str, index: int | None, value: object, limit: int) -> dict[str, Any]:
    details: dict[str, Any] = {"field": field_name}
    if index is not None:
        details["index"] = index
    if isinstance(value, str) and len(value) <= limit:  # the entry itself, never anything more
        details["value"] = value
    return details


def _check_list(values: object, field_name: str, limit: int) -> Sequence[object]:
    # A bare string is a Sequence[str] too: iterating it would check single characters.
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ValidationFailed(f"{field_name} must be a list.", details={"field": field_name})
    if len(values) > limit:
        raise ValidationFailed(
            f"{field_name} may have at most {limit} entries.",
            details={"field": field_name, "limit": limit},
        )
    return values


@dataclass(frozen=True)
class IpAllowlist:
    """Source IPs a credential may be used from. An empty allowlist means no IP restriction.

    Entries are canonical (see `parse`); the ranges are derived from them, so a warm check is a
    few integer comparisons. An IPv4 client matches IPv4 entries only (also when it arrives
    IPv4-mapped), an IPv6 client IPv6 entries only.
    """

    entries: tuple[str, ...]
    _v4: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    _v6: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Entries are re-read strictly, so one built by hand cannot hold a form `parse` refuses.
        entries = tuple(self.entries)
        v4: list[tuple[int, int]] = []
        v6: list[tuple[int, int]] = []
        for entry in entries:
            try:
                network = _parse_ip_entry(entry)
            except _Refused as refused:
                raise ValueError(f"IpAllowlist entry {entry!r} {refused}") from None
            if _canonical_ip(network) != entry:
                raise ValueError(f"{entry!r} is not canonical; build the list with parse()")
            span = (int(network.network_address), int(network.broadcast_address))
            (v4 if network.version == 4 else v6).append(span)
        object.__setattr__(self, "entries", entries)
        object.__setattr__(self, "_v4", tuple(v4))
        object.__setattr__(self, "_v6", tuple(v6))

    @classmethod
    def parse(cls, values: Sequence[str], *, field: str = "allowed_ips") -> IpAllowlist:
        """Client input to an allowlist: canonical entries, in order, duplicates removed."""
        entries: dict[str, None] = {}  # ordered set
        for index, value in enumerate(_check_list(values, field, MAX_ALLOWED_IPS)):
            try:
                network = _parse_ip_entry(value)
            except _Refused as refused:
                raise ValidationFailed(
                    f"{field}[{index}] {refused}.",
                    details=_details(field, index, value, _MAX_IP_TEXT),
                ) from None
            entries.setdefault(_canonical_ip(network), None)
        return cls(entries=tuple(entries))

    def allows(self, source_ip: str) -> bool:
        """Whether API Gateway's `sourceIp` may use the credential; unreadable: no (fail closed)."""
        if not self.entries:
            return True
        if not isinstance(source_ip, str):
            return False
        client = _client_address(source_ip)
        if client is None:
            return False
        version, number = client
        return any(
            start <= number <= end for start, end in (self._v4 if version == 4 else self._v6)
        )


@lru_cache(maxsize=4096)
def _client_address(source_ip: str) -> tuple[int, int] | None:
    """(IP version, address as an integer) of a source IP, an IPv4-mapped IPv6 address counting
    as its IPv4; None when unreadable. Cached: parsing is most of a check's cost, and a client
    sends many requests from one address."""
    # ip_address also takes an IPv6 zone id, which is no source IP.
    if "%" in source_ip:
        return None
    try:
        address: _IpAddress = ipaddress.ip_address(source_ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.version, int(address)


# ---------------------------------------------------------------------------------------------
# Per-address budgets

_IPV6_BUDGET_PREFIX = 64  # the smallest network an IPv6 subscriber is usually given
UNREADABLE_SOURCE = "unreadable"


def budget_subject(source_ip: str) -> str:
    """Whose budget a request from `source_ip` counts against, for every per-address budget.

    An IPv4 address is its own subject (an IPv4-mapped IPv6 address counts as that IPv4
    address). An IPv6 address counts as its /64: one subscriber is routinely given a whole /64
    (often much more), so a budget per IPv6 address would give them 2^64 budgets. Anything
    unreadable (API Gateway sends none) shares one subject, so it cannot mint fresh budgets.
    """
    client = _client_address(source_ip) if isinstance(source_ip, str) else None
    if client is None:
        return UNREADABLE_SOURCE
    version, number = client
    if version == 4:
        return str(ipaddress.IPv4Address(number))
    host_bits = 128 - _IPV6_BUDGET_PREFIX
    return str(ipaddress.IPv6Network((number >> host_bits << host_bits, _IPV6_BUDGET_PREFIX)))


# ---------------------------------------------------------------------------------------------
# Origins


def _is_loopback_host(host: str) -> bool:
    if host in {"localhost", "[::1]"}:
        return True
    return host.startswith("127.") and _is_ipv4_host(host)


def _is_ipv4_host(host: str) -> bool:
    """Strict dotted-decimal IPv4, as browsers serialize it."""
    try:
        _check_ipv4_text(host)
        ipaddress.IPv4Address(host)
    except ValueError:  # _Refused too
        return False
    return True


def _canonical_ipv6_host(literal: str) -> str:
    """`[...]` as browsers serialize it: compressed, lower-case hex (also when IPv4-mapped)."""
    inner = literal[1:-1]
    if not inner or not _IP_CHARS.issuperset(inner):
        raise _Refused("has an invalid IPv6 host")
    tail = inner.rsplit(":", 1)[-1]  # no ":" at all: an IPv4 or a name, refused below
    if "." in tail and not _is_ipv4_host(tail):
        raise _Refused("has an invalid IPv6 host")
    try:
        address = ipaddress.IPv6Address(inner)
    except ValueError:
        raise _Refused("has an invalid IPv6 host") from None
    mapped = address.ipv4_mapped
    if mapped is not None:  # Python writes these dotted; the URL standard writes hex
        number = int(mapped)
        return f"[::ffff:{number >> 16:x}:{number & 0xFFFF:x}]"
    return f"[{address.compressed}]"


def _canonical_hostname(host: str) -> str:
    host = host.lower()
    if not host:
        raise _Refused("has no host")
    labels = host.split(".")
    last = labels[-1]
    # Browsers read a host whose last label is numeric as IPv4 (also 0x7f.1 or 127.1) and send
    # it dotted-decimal; only that form is accepted, so the entry is what browsers will send.
    if (last and _DECIMAL.issuperset(last)) or (
        last.startswith("0x") and _HEX.issuperset(last[2:])
    ):
        if not _is_ipv4_host(host):
            raise _Refused(
                "has a numeric host that is not dotted-decimal IPv4 without leading zeros"
            )
        return host
    for label in labels:
        if not label:
            raise _Refused("has an empty host label (a leading, trailing or doubled '.')")
        if len(label) > _MAX_LABEL:
            raise _Refused(f"has a host label longer than {_MAX_LABEL} characters")
        if not _HOST_CHARS.issuperset(label) or label[0] == "-" or label[-1] == "-":
            raise _Refused("has an invalid host name (letters, digits and inner '-' only)")
    return host


def _check_origin_text(value: object) -> str:
    value = _check_text(value, _MAX_ORIGIN_TEXT)
    if not value.isascii():
        raise _Refused("must be ASCII (write an internationalized domain name in punycode, xn--)")
    if not value.isprintable() or any(char.isspace() for char in value):
        raise _Refused("must not contain whitespace or control characters")
    if value.lower() == "null":
        raise _Refused("must not be the 'null' origin")
    if "*" in value:
        raise _Refused("must be an exact origin, without wildcards")
    return value


def _parse_port(text: str) -> str:
    problem = _decimal_problem(text)
    if problem is None and not 1 <= int(text) <= _MAX_PORT:
        problem = f"it must be from 1 to {_MAX_PORT}"
    if problem is not None:
        raise _Refused(f"has a bad port: {problem}")
    return text


def _parse_authority(authority: str) -> tuple[str, str]:
    """`host[:port]` to the canonical host and the port as written ("" when there is none)."""
    # '@' first: in `https://a.test:443@evil.test` the host a browser would use is evil.test.
    if "@" in authority:
        raise _Refused("must not have user information ('@')")
    if any(char in _ORIGIN_HOST_END for char in authority):
        raise _Refused("must not have a path, query or fragment (not even a trailing '/')")
    if "%" in authority:
        raise _Refused("must not have percent-encoding")
    if authority.startswith("["):
        literal, bracket, after = authority.partition("]")
        if not bracket:
            raise _Refused("has an invalid IPv6 host")
        host = _canonical_ipv6_host(literal + bracket)
    else:
        name = authority.split(":", 1)[0]
        after = authority[len(name) :]
        host = _canonical_hostname(name)
    if not after:
        return host, ""
    if not after.startswith(":"):
        raise _Refused("must have the form scheme://host[:port]")
    return host, _parse_port(after[1:])


def _canonical_origin(value: object) -> str:
    """The origin as a browser serializes it in the `Origin` header, or _Refused."""
    value = _check_origin_text(value)
    scheme, separator, authority = value.partition("://")
    if not separator or not scheme or not _SCHEME_CHARS.issuperset(scheme):
        raise _Refused("must have the form scheme://host[:port]")
    scheme = scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _Refused("must use https (or http for localhost)")
    host, port = _parse_authority(authority)
    if scheme == "http" and not _is_loopback_host(host):
        raise _Refused("must use https (http is allowed for localhost only)")
    # Browsers leave a default port out of the Origin header they send, so the entry does too.
    if port and port != _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def canonical_origin(value: str, *, field: str = "allowed_origins") -> str:
    """`scheme://host[:port]` as browsers send it; https, or http for localhost only."""
    try:
        return _canonical_origin(value)
    except _Refused as refused:
        raise ValidationFailed(
            f"{field} {refused}.", details=_details(field, None, value, _MAX_ORIGIN_TEXT)
        ) from None


def parse_origins(values: Sequence[str], *, field: str = "allowed_origins") -> tuple[str, ...]:
    """Client input to canonical origins, in order, duplicates (after canonicalizing) removed."""
    origins: dict[str, None] = {}  # ordered set
    for index, value in enumerate(_check_list(values, field, MAX_ALLOWED_ORIGINS)):
        try:
            origins.setdefault(_canonical_origin(value), None)
        except _Refused as refused:
            raise ValidationFailed(
                f"{field}[{index}] {refused}.",
                details=_details(field, index, value, _MAX_ORIGIN_TEXT),
            ) from None
    return tuple(origins)


def is_origin(value: str) -> bool:
    """Whether a request's Origin header is a valid origin already in canonical form. Never raises:
    it answers CORS preflights, whose headers anyone may write."""
    try:
        return _canonical_origin(value) == value
    except _Refused:
        return False
