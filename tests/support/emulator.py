"""The AWS the integration tier runs against: the local stack's moto emulator, with the
template's resources provisioned the way `make dev` provisions them. Tests reach the local
stack's emulator only through here, so the dev server changes without the tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from infra.local.aws import AwsEndpoint
from infra.local.emulator import MotoEmulator
from infra.local.provisioning import Provisioning, provision

__all__ = ["AwsEndpoint", "Provisioning", "emulated_aws", "provision"]


@contextmanager
def emulated_aws() -> Iterator[AwsEndpoint]:
    """A moto server of this process on a free loopback port, stopped on exit."""
    emulator = MotoEmulator("127.0.0.1", 0)
    endpoint = emulator.start()
    try:
        yield endpoint
    finally:
        emulator.stop()
