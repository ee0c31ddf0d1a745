"""Where the local stack's AWS calls go, and with which (fake) identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

# Fail fast on an endpoint that is not there, instead of botocore's retries with back-off.
_CLIENT_CONFIG = Config(connect_timeout=2, retries={"mode": "standard", "max_attempts": 2})

REGION = "us-east-1"


@dataclass(frozen=True)
class AwsEndpoint:
    """An emulated AWS endpoint. Credentials and region are explicit so ~/.aws never matters."""

    url: str
    region: str = REGION
    access_key_id: str = "testing"
    secret_access_key: str = "testing"  # noqa: S105 - the emulator accepts any credential

    def clients(self, *services: str) -> tuple[Any, ...]:
        """Clients for `services` from one session (a session loads each service model once)."""
        session = boto3.session.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )
        return tuple(
            session.client(service, endpoint_url=self.url, config=_CLIENT_CONFIG)  # type: ignore[call-overload]
            for service in services
        )

    def client(self, service: str) -> Any:
        return self.clients(service)[0]

    def environment(self) -> dict[str, str]:
        """The variables that point boto3 in a function process at this endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }
