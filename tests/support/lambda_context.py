"""A LambdaContext with the attributes Lambda provides, for invoking handlers in-process."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass
class FakeLambdaContext:
    function_name: str = "railguard-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: str = "512"  # a string in real Lambda too
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/railguard-test"
    log_stream_name: str = "test"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000
