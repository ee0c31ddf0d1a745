"""IP allowlists and allowed origins: strict parsing, one canonical form, exact matching.

The example tests pin each rule of the contract; the property tests check `allows` against the
standard library's own network membership and that origin matching cannot be stretched."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from railguard.access.network import (
    MAX_ALLOWED_IPS,
    MAX_ALLOWED_ORIGINS,
    IpAllowlist,
    canonical_origin,
    is_origin,
    parse_origins,
)
from railguard.core.errors import ValidationFailed

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _in_mapped_block(network: Network) -> bool:
    """Whether a network starts in ::ffff:0:0/96, the IPv4-mapped addresses."""
    address = network.network_address
    return isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None


def _is_plain_ipv6(address: Address) -> bool:
    """An IPv6 address that is not an IPv4-mapped one."""
    return isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None


def _mapped_forms(address: ipaddress.IPv4Address) -> list[str]:
    """The ways a client may write an IPv4-mapped IPv6 address: dotted, hex, upper-case hex."""
    number = int(address)
    hex_form = f"::ffff:{number >> 16:x}:{number & 0xFFFF:x}"
    return [f"::ffff:{address}", hex_form, hex_form.upper()]


# ---------------------------------------------------------------------------------------------
# IP allowlists: examples


@pytest.mark.parametrize(
    ("given_entry", "canonical"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:0DB8::/32", "2001:db8::/32"),
        ("192.0.2.1/32", "192.0.2.1"),
        ("2001:db8::1/128", "2001:db8::1"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("::/0", "::/0"),
    ],
)
def test_entries_are_stored_in_canonical_form(given_entry: str, canonical: str) -> None:
    assert IpAllowlist.parse([given_entry]).entries == (canonical,)


@pytest.mark.parametrize(
    ("given_entry", "canonical"),
    [
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::ffff:a00:0/104", "10.0.0.0/8"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::FFFF:C000:201", "192.0.2.1"),
        ("::ffff:192.0.2.1/128", "192.0.2.1"),
        ("::ffff:0:0/96", "0.0.0.0/0"),
    ],
)
def test_an_ipv4_mapped_entry_is_stored_as_ipv4(given_entry: str, canonical: str) -> None:
    # Given a mapped entry, When parsed, Then it is the IPv4 rule it stands for
    allowlist = IpAllowlist.parse([given_entry])
    assert allowlist.entries == (canonical,)
    assert allowlist.allows(str(ipaddress.ip_network(canonical)[0]))


def test_duplicates_are_removed_after_canonicalizing_and_order_is_kept() -> None:
    allowlist = IpAllowlist.parse(
        ["2001:db8::/32", "192.0.2.1", "2001:DB8::/32", "::ffff:192.0.2.1", "10.0.0.0/8"]
    )
    assert allowlist.entries == ("2001:db8::/32", "192.0.2.1", "10.0.0.0/8")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("10.0.0.1/8", "host bits set"),
        ("2001:db8::1/32", "host bits set"),
        ("10.0.0.0/0", "host bits set"),
        ("::ffff:10.0.0.1/104", "host bits set"),
        ("10.0.0.0/33", "bad prefix"),
        ("2001:db8::/129", "bad prefix"),
        ("10.0.0.0/-1", "bad prefix"),
        ("10.0.0.0/08", "bad prefix: it has a leading zero"),
        ("2001:db8::/032", "bad prefix: it has a leading zero"),
        ("10.0.0.0/+8", "bad prefix"),
        ("10.0.0.0/", "bad prefix"),
        ("10.0.0.0/\uff18", "bad prefix"),  # a full-width digit 8
        ("10.0.0.0/8/8", "more than one '/'"),
        ("/8", "no address"),
        ("010.0.0.1", "leading zero"),
        ("10.0.0.01", "leading zero"),
        ("10.00.0.0/16", "leading zero"),
        ("::ffff:010.0.0.1", "leading zero"),
        ("fe80::1%eth0", "zone id"),
        ("fe80::%1/64", "zone id"),
        ("10.0.0.0/ 8", "whitespace"),
        (" 10.0.0.1", "whitespace"),
        ("10.0.0.1 ", "whitespace"),
        ("10.0.0.1\n", "whitespace"),
        ("10.0. 0.1", "whitespace"),
        ("", "empty"),
        ("example.com", "hostnames are not accepted"),
        ("localhost", "hostnames are not accepted"),
        ("cafe.be", "not a valid IPv4 address"),
        ("10.0.0", "not a valid IPv4 address"),
        ("10.0.0.256", "not a valid IPv4 or IPv6 address"),
        ("1:2:3:4:5:6:7:8:9", "not a valid IPv4 or IPv6 address"),
        ("2001:db8:::1", "not a valid IPv4 or IPv6 address"),
        ("::ffff:0:0/95", "IPv4-mapped"),
        ("::ffff:10.0.0.0/8", "IPv4-mapped"),
        ("1" * 65, "at most 64 characters"),
    ],
)
def test_a_bad_entry_is_refused_naming_the_problem_and_the_entry(entry: str, problem: str) -> None:
    # Given a valid entry followed by a bad one
    # When parsed
    with pytest.raises(ValidationFailed) as raised:
        IpAllowlist.parse(["192.0.2.1", entry])
    # Then the 400 names the problem and points at the bad entry only
    assert raised.value.status == 400
    assert problem in raised.value.message
    expected: dict[str, Any] = {"field": "allowed_ips", "index": 1}
    if len(entry) <= 64:
        expected["value"] = entry
    assert raised.value.details == expected


@pytest.mark.parametrize("entry", [None, 167772160, b"10.0.0.1", ["10.0.0.1"]])
def test_an_entry_that_is_not_a_string_is_refused(entry: object) -> None:
    with pytest.raises(ValidationFailed) as raised:
        IpAllowlist.parse([entry])  # type: ignore[list-item]
    assert "must be a string" in raised.value.message
    assert raised.value.details == {"field": "allowed_ips", "index": 0}


def test_the_field_name_is_the_callers() -> None:
    with pytest.raises(ValidationFailed) as raised:
        IpAllowlist.parse(["10.0.0.1/8"], field="ip_allowlist")
    assert raised.value.message.startswith("ip_allowlist[0] ")
    assert raised.value.details["field"] == "ip_allowlist"


def test_at_most_max_allowed_ips_entries() -> None:
    # Given exactly the maximum, and one more
    entries = [f"10.0.{i}.0/24" for i in range(MAX_ALLOWED_IPS + 1)]
    # When parsed, Then the maximum is accepted and one more is refused
    assert len(IpAllowlist.parse(entries[:MAX_ALLOWED_IPS]).entries) == MAX_ALLOWED_IPS
    with pytest.raises(ValidationFailed) as raised:
        IpAllowlist.parse(entries)
    assert str(MAX_ALLOWED_IPS) in raised.value.message
    assert raised.value.details["field"] == "allowed_ips"


@pytest.mark.parametrize("values", ["10.0.0.1", b"10.0.0.1", None, {"10.0.0.1": 1}])
def test_a_value_that_is_not_a_list_is_refused(values: object) -> None:
    # A bare string is a sequence too: it must not be read one character at a time
    with pytest.raises(ValidationFailed) as raised:
        IpAllowlist.parse(values)  # type: ignore[arg-type]
    assert "must be a list" in raised.value.message


def test_an_empty_allowlist_means_no_ip_restriction() -> None:
    allowlist = IpAllowlist.parse([])
    assert allowlist.entries == ()
    assert allowlist.allows("192.0.2.1")
    assert allowlist.allows("2001:db8::1")


@pytest.mark.parametrize(
    ("source_ip", "allowed"),
    [
        ("10.1.2.3", True),
        ("10.255.255.255", True),
        ("11.0.0.0", False),
        ("9.255.255.255", False),
        ("192.0.2.1", True),
        ("192.0.2.2", False),
        ("2001:db8::5", True),
        ("2001:DB8:FFFF::1", True),
        ("2001:db9::", False),
        ("::ffff:10.1.2.3", True),
        ("::ffff:a01:203", True),
        ("::FFFF:A01:203", True),
        ("::ffff:11.1.2.3", False),
    ],
)
def test_allows_matches_by_range_and_version(source_ip: str, allowed: bool) -> None:
    allowlist = IpAllowlist.parse(["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"])
    assert allowlist.allows(source_ip) is allowed


def test_an_ipv6_entry_does_not_admit_an_ipv4_client_even_when_mapped() -> None:
    # Given only an IPv6 rule covering all IPv6 space (the mapped block included)
    allowlist = IpAllowlist.parse(["::/0"])
    # Then IPv4 clients, in either spelling, are not admitted, and IPv6 clients are
    assert not allowlist.allows("192.0.2.1")
    assert not allowlist.allows("::ffff:192.0.2.1")
    assert allowlist.allows("2001:db8::1")


def test_an_ipv4_entry_does_not_admit_an_ipv6_client() -> None:
    allowlist = IpAllowlist.parse(["0.0.0.0/0"])
    assert allowlist.allows("203.0.113.9")
    assert not allowlist.allows("2001:db8::1")
    assert not allowlist.allows("::")
    assert not allowlist.allows("::1.2.3.4")  # IPv4-compatible, not mapped: an IPv6 address


@pytest.mark.parametrize(
    "source_ip",
    [
        "",
        " 10.0.0.1",
        "10.0.0.1 ",
        "10.0.0.1\n",
        "010.0.0.1",
        "10.0.0.1/32",
        "10.0.0",
        "example.com",
        "fe80::1%eth0",
        "::ffff:10.0.0.1%1",
        "unknown",
        None,
        167772161,
        b"\x0a\x00\x00\x01",
    ],
)
def test_an_unreadable_source_ip_is_refused(source_ip: object) -> None:
    # Given rules that would admit the address if it were read leniently
    allowlist = IpAllowlist.parse(["10.0.0.0/8", "fe80::/10"])
    # Then an unreadable sourceIp fails closed
    assert allowlist.allows(source_ip) is False  # type: ignore[arg-type]


def test_an_allowlist_built_by_hand_must_be_canonical() -> None:
    assert IpAllowlist(entries=("10.0.0.0/8",)) == IpAllowlist.parse(["10.0.0.0/8"])
    assert IpAllowlist(entries=("10.0.0.0/8",)).allows("10.9.9.9")
    for entry in ("10.0.0.1/32", "::ffff:10.0.0.0/104", "2001:DB8::1", "10.0.0.1/8"):
        with pytest.raises(ValueError, match=r"10|2001"):
            IpAllowlist(entries=(entry,))


def test_an_allowlist_is_immutable() -> None:
    allowlist = IpAllowlist.parse(["10.0.0.0/8"])
    with pytest.raises(AttributeError):
        allowlist.entries = ()  # type: ignore[misc]
    assert allowlist.entries == ("10.0.0.0/8",)


# ---------------------------------------------------------------------------------------------
# IP allowlists: properties


@st.composite
def networks(draw: st.DrawFn, version: int | None = None) -> Network:
    v = version or draw(st.sampled_from([4, 6]))
    address = draw(st.ip_addresses(v=4 if v == 4 else 6))
    prefix = draw(st.integers(0, address.max_prefixlen))
    return ipaddress.ip_network((address, prefix), strict=False)


def ipv6_networks_outside_the_mapped_block() -> st.SearchStrategy[Network]:
    return networks(6).filter(lambda network: not _in_mapped_block(network))


@st.composite
def networks_and_an_address(
    draw: st.DrawFn, nets: st.SearchStrategy[Network], version: int
) -> tuple[list[Network], Address]:
    """Some networks, and an address that is often inside one of them (else it rarely is)."""
    chosen = draw(st.lists(nets, min_size=1, max_size=5))
    inside = st.sampled_from(chosen).flatmap(lambda network: st.ip_addresses(network=network))
    anywhere = st.ip_addresses(v=4 if version == 4 else 6)
    return chosen, draw(st.one_of(inside, anywhere))


@given(networks_and_an_address(networks(4), 4))
def test_allows_agrees_with_ipaddress_for_ipv4(case: tuple[list[Network], Address]) -> None:
    nets, address = case
    allowlist = IpAllowlist.parse([str(network) for network in nets])
    assert allowlist.allows(str(address)) == any(address in network for network in nets)


@given(networks_and_an_address(ipv6_networks_outside_the_mapped_block(), 6))
def test_allows_agrees_with_ipaddress_for_ipv6(case: tuple[list[Network], Address]) -> None:
    nets, address = case
    assume(_is_plain_ipv6(address))
    allowlist = IpAllowlist.parse([str(network) for network in nets])
    assert allowlist.allows(str(address)) == any(address in network for network in nets)
    assert allowlist.allows(address.exploded.upper()) == allowlist.allows(str(address))


@given(st.lists(networks(), max_size=5), st.ip_addresses(v=4))
def test_a_mapped_client_gets_the_answer_of_its_ipv4_address(
    nets: list[Network], address: ipaddress.IPv4Address
) -> None:
    # Given any rules, IPv6 ones (even ::/0) included, except mapped ranges shorter than /96
    assume(all(n.prefixlen >= 96 or not _in_mapped_block(n) for n in nets))
    allowlist = IpAllowlist.parse([str(network) for network in nets])
    # Then every spelling of the mapped client is answered as the IPv4 client is
    answer = allowlist.allows(str(address))
    for mapped in _mapped_forms(address):
        assert allowlist.allows(mapped) == answer


@given(
    st.lists(networks(4), min_size=1, max_size=5),
    st.ip_addresses(v=6).filter(_is_plain_ipv6),
)
def test_an_ipv4_entry_never_admits_an_ipv6_client(nets: list[Network], address: Address) -> None:
    allowlist = IpAllowlist.parse([str(network) for network in nets])
    assert not allowlist.allows(str(address))


@st.composite
def addresses_with_host_bits(draw: st.DrawFn) -> tuple[Address, int]:
    """An address and a prefix shorter than the address, with some host bit set."""
    address = draw(st.ip_addresses())
    prefix = draw(st.integers(0, address.max_prefixlen - 1))
    host_bits = address.max_prefixlen - prefix
    network = int(address) >> host_bits << host_bits
    host = draw(st.integers(1, (1 << host_bits) - 1))
    return type(address)(network | host), prefix  # ip_address(int) could pick IPv4


@given(addresses_with_host_bits())
def test_a_network_with_host_bits_set_is_always_refused(case: tuple[Address, int]) -> None:
    address, prefix = case
    text = f"{address}/{prefix}"
    with pytest.raises(ValidationFailed) as raised:
        IpAllowlist.parse([text])
    mapped_and_short = (
        isinstance(address, ipaddress.IPv6Address)
        and address.ipv4_mapped is not None
        and prefix < 96
    )
    assert ("IPv4-mapped" if mapped_and_short else "host bits set") in raised.value.message
    assert raised.value.details == {"field": "allowed_ips", "index": 0, "value": text}


def _spellings(network: Network) -> st.SearchStrategy[str]:
    texts = [str(network), network.exploded, str(network).upper(), network.exploded.upper()]
    if network.prefixlen == network.max_prefixlen:
        texts.append(str(network.network_address))
    return st.sampled_from(texts)


@given(st.lists(networks().filter(lambda n: not _in_mapped_block(n)), max_size=8))
def test_canonical_entries_round_trip(nets: list[Network]) -> None:
    spellings = [str(network) for network in nets]
    first = IpAllowlist.parse(spellings)
    again = IpAllowlist.parse(first.entries)
    assert again.entries == first.entries
    assert again == first
    assert IpAllowlist(entries=first.entries) == first
    # Each canonical entry is the network it came from
    assert {ipaddress.ip_network(entry) for entry in first.entries} == set(nets)


@given(st.data())
def test_any_spelling_of_a_network_gives_the_same_entry(data: st.DataObject) -> None:
    network = data.draw(networks().filter(lambda n: not _in_mapped_block(n)))
    spelling = data.draw(_spellings(network))
    assert IpAllowlist.parse([spelling]).entries == IpAllowlist.parse([str(network)]).entries


# ---------------------------------------------------------------------------------------------
# Origins: examples


@pytest.mark.parametrize(
    ("given_origin", "canonical"),
    [
        ("https://app.example.com", "https://app.example.com"),
        ("http://localhost:5173", "http://localhost:5173"),
        ("HTTPS://App.Example.COM", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("https://app.example.com:8443", "https://app.example.com:8443"),
        ("https://app.example.com:80", "https://app.example.com:80"),
        ("http://localhost:80", "http://localhost"),
        ("http://localhost:443", "http://localhost:443"),
        ("http://LOCALHOST", "http://localhost"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("http://127.8.9.10", "http://127.8.9.10"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://[0:0:0:0:0:0:0:1]", "http://[::1]"),
        ("https://localhost", "https://localhost"),
        ("https://192.0.2.1:8443", "https://192.0.2.1:8443"),
        ("https://[2001:DB8::1]", "https://[2001:db8::1]"),
        ("https://[::ffff:192.0.2.1]", "https://[::ffff:c000:201]"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
        ("https://a-b.c-d.example", "https://a-b.c-d.example"),
        ("https://app.example.com:65535", "https://app.example.com:65535"),
    ],
)
def test_origins_are_stored_as_browsers_send_them(given_origin: str, canonical: str) -> None:
    assert canonical_origin(given_origin) == canonical
    assert is_origin(canonical)
    assert is_origin(given_origin) is (given_origin == canonical)


@pytest.mark.parametrize(
    ("origin", "problem"),
    [
        ("null", "'null' origin"),
        ("NULL", "'null' origin"),
        ("", "empty"),
        ("https://app.example.com/", "path"),
        ("https://app.example.com/app", "path"),
        ("https://app.example.com?x=1", "query"),
        ("https://app.example.com#top", "fragment"),
        ("https://app.example.com\\", "path"),
        ("https://user@app.example.com", "user information"),
        ("https://user:pw@app.example.com", "user information"),
        ("https://app.example.com:443@evil.test", "user information"),
        ("https://*.example.com", "wildcards"),
        ("*", "wildcards"),
        ("https://app.example.com ", "whitespace"),
        (" https://app.example.com", "whitespace"),
        ("https://app .example.com", "whitespace"),
        ("https://app.example.com\t", "whitespace"),
        ("https://app.example.com\x00", "control"),
        ("https://bücher.example", "punycode"),
        ("https://app.example.com\u00a0", "ASCII"),
        ("http://app.example.com", "http is allowed for localhost only"),
        ("http://localhost.evil.test", "http is allowed for localhost only"),
        ("http://evil-localhost", "http is allowed for localhost only"),
        ("http://128.0.0.1", "http is allowed for localhost only"),
        ("http://[::2]", "http is allowed for localhost only"),
        ("ftp://app.example.com", "https"),
        ("ws://app.example.com", "https"),
        ("app.example.com", "scheme://host[:port]"),
        ("//app.example.com", "scheme://host[:port]"),
        ("https:app.example.com", "scheme://host[:port]"),
        ("https://", "no host"),
        ("https://:8443", "no host"),
        ("https://app.example.com:", "bad port"),
        ("https://app.example.com:0", "bad port"),
        ("https://app.example.com:65536", "bad port"),
        ("https://app.example.com:0443", "bad port: it has a leading zero"),
        ("https://app.example.com:-1", "bad port"),
        ("https://app.example.com:8443:1", "bad port"),
        ("https://app.example.com:https", "bad port"),
        ("https://app..example.com", "empty host label"),
        ("https://.app.example.com", "empty host label"),
        ("https://app.example.com.", "empty host label"),
        ("https://-app.example.com", "invalid host name"),
        ("https://app-.example.com", "invalid host name"),
        ("https://app_1.example.com", "invalid host name"),
        ("https://" + "a" * 64 + ".example", "label longer than 63"),
        ("https://" + "a" * 250, "at most 255 characters"),
        ("https://010.0.0.1", "numeric host"),
        ("https://0x7f.0.0.1", "numeric host"),
        ("https://127.1", "numeric host"),
        ("https://app.123", "numeric host"),
        ("https://256.0.0.1", "numeric host"),
        ("https://[::1", "invalid IPv6 host"),
        ("https://[]", "invalid IPv6 host"),
        ("https://[example.com]", "invalid IPv6 host"),
        ("https://[::ffff:010.0.0.1]", "invalid IPv6 host"),
        ("https://[::1]x", "scheme://host[:port]"),
        ("https://[fe80::1%25eth0]", "percent-encoding"),
        ("https://app%2Eexample.com", "percent-encoding"),
    ],
)
def test_a_bad_origin_is_refused_naming_the_problem(origin: str, problem: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        canonical_origin(origin)
    assert problem in raised.value.message
    assert raised.value.details["field"] == "allowed_origins"
    assert is_origin(origin) is False


@pytest.mark.parametrize("origin", [None, 443, b"https://app.example.com"])
def test_an_origin_that_is_not_a_string_is_refused(origin: object) -> None:
    with pytest.raises(ValidationFailed) as raised:
        canonical_origin(origin)  # type: ignore[arg-type]
    assert "must be a string" in raised.value.message
    assert is_origin(origin) is False  # type: ignore[arg-type]


def test_parse_origins_canonicalizes_deduplicates_and_keeps_order() -> None:
    origins = parse_origins(
        [
            "https://b.example.com",
            "HTTPS://A.example.com:443",
            "https://b.example.com:443",
            "http://localhost:5173",
            "https://a.example.com",
        ]
    )
    assert origins == ("https://b.example.com", "https://a.example.com", "http://localhost:5173")


def test_parse_origins_points_at_the_bad_entry() -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_origins(["https://ok.example.com", "http://app.example.com"], field="origins")
    assert raised.value.message.startswith("origins[1] ")
    assert raised.value.details == {
        "field": "origins",
        "index": 1,
        "value": "http://app.example.com",
    }


def test_at_most_max_allowed_origins() -> None:
    origins = [f"https://app{i}.example.com" for i in range(MAX_ALLOWED_ORIGINS + 1)]
    assert len(parse_origins(origins[:MAX_ALLOWED_ORIGINS])) == MAX_ALLOWED_ORIGINS
    with pytest.raises(ValidationFailed) as raised:
        parse_origins(origins)
    assert str(MAX_ALLOWED_ORIGINS) in raised.value.message


@pytest.mark.parametrize("values", ["https://app.example.com", None, 5])
def test_origins_that_are_not_a_list_are_refused(values: object) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_origins(values)  # type: ignore[arg-type]
    assert "must be a list" in raised.value.message


def test_an_empty_origin_list_is_allowed() -> None:
    assert parse_origins([]) == ()


# ---------------------------------------------------------------------------------------------
# Origins: properties

_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_TLD = st.from_regex(r"[a-z]{2,6}", fullmatch=True)
_HOSTS = st.builds(
    lambda labels, tld: ".".join([*labels, tld]), st.lists(_LABEL, min_size=1, max_size=3), _TLD
)
_PORTS = st.one_of(st.none(), st.integers(1, 65535).filter(lambda port: port != 443))


def _origin(host: str, port: int | None) -> str:
    return f"https://{host}" if port is None else f"https://{host}:{port}"


@given(_HOSTS, _PORTS)
def test_a_canonical_origin_is_its_own_canonical_form(host: str, port: int | None) -> None:
    origin = _origin(host, port)
    assert canonical_origin(origin) == origin
    assert is_origin(origin)
    assert parse_origins([origin, origin]) == (origin,)


@given(_HOSTS, _PORTS, st.data())
def test_a_case_change_is_canonicalized_but_is_not_an_origin(
    host: str, port: int | None, data: st.DataObject
) -> None:
    # Given a host with some letters upper-cased (the TLD is all letters, so one always is)
    flips = data.draw(st.lists(st.booleans(), min_size=len(host), max_size=len(host)))
    upper = "".join(c.upper() if flip else c for c, flip in zip(host, flips, strict=True))
    assume(upper != host)
    # Then parsing folds it to the lower-case origin, but it is not what a browser sends
    assert canonical_origin(_origin(upper, port)) == _origin(host, port)
    assert not is_origin(_origin(upper, port))


@given(_HOSTS, _PORTS, _LABEL, _HOSTS)
def test_origin_matching_is_exact(host: str, port: int | None, label: str, evil: str) -> None:
    # Given an allowed origin
    allowed = parse_origins([_origin(host, port)])
    # When an origin differs by a suffix, a prefix or the port
    other_port = 8443 if port != 8443 else 8444
    lookalikes = [
        _origin(f"{host}.{evil}", port),
        _origin(f"{label}.{host}", port),
        _origin(f"{label}{host}", port),
        _origin(f"{host}{label}", port),
        _origin(host, other_port),
        f"http://{host}" if port is None else f"http://{host}:{port}",
    ]
    # Then none of them is allowed, not even once canonicalized, though most are valid origins
    for lookalike in lookalikes:
        assert lookalike not in allowed
        try:
            assert canonical_origin(lookalike) not in allowed
        except ValidationFailed:
            assert lookalike.startswith("http://")


@given(_HOSTS, _PORTS, _HOSTS)
def test_userinfo_tricks_are_refused(host: str, port: int | None, evil: str) -> None:
    for trick in [
        f"{_origin(host, port)}@{evil}",
        f"https://{host}:443@{evil}",
        f"https://{evil}#@{host}",
        f"https://{evil}?@{host}",
        f"https://{evil}/{host}",
        f"https://{host}@{evil}:443",
    ]:
        assert not is_origin(trick)
        with pytest.raises(ValidationFailed):
            canonical_origin(trick)


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_is_origin_never_raises_and_agrees_with_canonical_origin(value: str) -> None:
    answer = is_origin(value)
    try:
        canonical = canonical_origin(value)
    except ValidationFailed:
        assert answer is False
    else:
        assert answer is (canonical == value)
