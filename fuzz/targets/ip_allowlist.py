"""`IpAllowlist.parse` on client-written entries and `.allows` on a source IP.

Input: NUL-separated fields; the last is the source IP, the others are the entries.

Property: `parse` returns an allowlist or raises `ValidationFailed`; `allows` answers a bool for
any text. The entries are canonical (parsing them again, or building the allowlist from them
directly, gives the same list), an allowlist read back from its entries allows the same
addresses, and `allows` agrees with `ipaddress`'s own containment test, an IPv4-mapped client
counting as IPv4.
"""

from __future__ import annotations

import ipaddress

from fuzz.targets._inputs import FIELD_SEPARATOR, check, text
from railguard.access.network import IpAllowlist
from railguard.core.errors import ValidationFailed


def _reference_allows(entries: tuple[str, ...], source_ip: str) -> bool:
    """The documented rule, written with `ipaddress` networks instead of integer ranges."""
    if not entries:
        return True
    if "%" in source_ip:
        return False
    try:
        client = ipaddress.ip_address(source_ip)
    except ValueError:
        return False
    if isinstance(client, ipaddress.IPv6Address) and client.ipv4_mapped is not None:
        client = client.ipv4_mapped
    return any(client in ipaddress.ip_network(entry) for entry in entries)


def one_input(data: bytes) -> None:
    *entry_fields, source_field = data.split(FIELD_SEPARATOR)
    entries = [text(entry) for entry in entry_fields]
    source_ip = text(source_field)
    try:
        allowlist = IpAllowlist.parse(entries)
    except ValidationFailed:
        return
    allowed = allowlist.allows(source_ip)
    check(isinstance(allowed, bool), "allows answers a bool")
    reparsed = IpAllowlist.parse(list(allowlist.entries))
    check(reparsed.entries == allowlist.entries, "parsing canonical entries changed them")
    rebuilt = IpAllowlist(entries=allowlist.entries)
    check(rebuilt.allows(source_ip) == allowed, "the rebuilt allowlist decides differently")
    check(
        allowed == _reference_allows(allowlist.entries, source_ip),
        f"allows({source_ip!r}) disagrees with ipaddress for {allowlist.entries!r}",
    )
    for entry in allowlist.entries:
        first_address = str(ipaddress.ip_network(entry).network_address)
        check(allowlist.allows(first_address), f"{entry!r} does not allow its own address")
