"""Publishing to the stack's EventBridge bus: the only module that talks to EventBridge."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from railguard.core.errors import ServiceUnavailable

if TYPE_CHECKING:
    from mypy_boto3_events.client import EventBridgeClient


class EventBus:
    def __init__(self, client: EventBridgeClient, bus_name: str):
        self._client = client
        self._bus_name = bus_name

    def publish(self, source: str, detail_type: str, detail: Mapping[str, Any]) -> None:
        """One event, or `ServiceUnavailable` (the caller may retry) if the bus did not take it."""
        try:
            response = self._client.put_events(
                Entries=[
                    {
                        "EventBusName": self._bus_name,
                        "Source": source,
                        "DetailType": detail_type,
                        "Detail": json.dumps(detail, separators=(",", ":")),
                    }
                ]
            )
        except (ClientError, BotoCoreError) as error:
            raise ServiceUnavailable from error
        if response.get("FailedEntryCount"):
            raise ServiceUnavailable
