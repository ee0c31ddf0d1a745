"""Listening locally: the port a setting names, whether it is free before anything starts on it,
and whether a name is this machine's own (a loopback address or `localhost`)."""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Mapping

from infra.local.errors import StartupError


def port_setting(environment: Mapping[str, str], name: str, default: int) -> int:
    """The port the variable `name` sets (`default` when unset); `StartupError` for anything but
    a port number."""
    value = environment.get(name, str(default))
    if not value.isascii() or not value.isdigit() or int(value) > 65535:
        raise StartupError(f"{name} must be a port number, got {value!r}")
    return int(value)


def ensure_port_free(host: str, port: int, setting: str) -> None:
    """Raise `StartupError` naming `setting` (the variable that changes it) if the port is taken."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # The option the servers set too, so a port merely in TIME_WAIT counts as free.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
    except OSError as exc:
        raise port_error(host, port, setting, exc) from exc
    finally:
        probe.close()


def port_error(host: str, port: int, setting: str, error: OSError) -> StartupError:
    if error.errno == errno.EADDRINUSE:
        return StartupError(
            f"port {port} on {host} is in use; choose another with {setting}=<port>"
        )
    return StartupError(f"cannot listen on {host}:{port} ({setting}): {error.strerror}")


def is_loopback(host: str) -> bool:
    """`host` (a name, or an address, IPv6 in brackets or not) is this machine's own."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
