"""`JobFunction`: the one entry point every scheduled job uses.

A job is invoked by its EventBridge schedule (an event whose `detail` is empty) or by hand
(`make job NAME=...`, whose `detail` may carry options the job's model declares). It runs until its
work is done or its time is nearly up, and returns a report of what it did; being idempotent, a
run that stops early leaves the rest to the next run, which finds it where it was left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from railguard.audit.trail import RequestOrigin, request_origin
from railguard.core.runtime import Runtime
from railguard.core.settings import FunctionSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

KeepGoing = Callable[[], bool]

# Time kept back from Lambda's limit to finish the item at hand and write the report.
_SAFETY_MARGIN_SECONDS = 5.0


class JobOptions(BaseModel):
    """What a run by hand may ask for; a scheduled run asks for nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class JobReport:
    job: str
    complete: bool = True
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, by: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + by

    def as_dict(self) -> dict[str, Any]:
        return {"job": self.job, "complete": self.complete, "counts": dict(self.counts)}


def while_time_remains[T](
    items: Iterable[T], keep_going: KeepGoing, report: JobReport
) -> Iterator[T]:
    """`items` for as long as `keep_going()`; when it says no, the report is marked incomplete
    and the iteration ends (the rest is the next run's)."""
    for item in items:
        if not keep_going():
            report.complete = False
            return
        yield item


class JobFunction[S: FunctionSettings, O: JobOptions]:
    """`run(runtime, options, keep_going, report)` does the work, asking `keep_going()` before
    each item; it returns when done or when `keep_going()` says no (the report says which)."""

    def __init__(
        self,
        name: str,
        settings_model: type[S],
        options_model: type[O],
        run: Callable[[Runtime[S], O, KeepGoing, JobReport], None],
    ):
        self.name = name
        self._settings_model = settings_model
        self._options_model = options_model
        self._run = run
        self._runtime: Runtime[S] | None = None

    def reset(self) -> None:
        """Forget the cold-start state, as a new Lambda instance would (tests use this)."""
        self._runtime = None

    def handler(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        if self._runtime is None:
            self._runtime = Runtime.cold_start(self._settings_model)
        runtime = self._runtime
        # A malformed request by hand fails the invocation (pydantic says which field).
        options = self._options_model.model_validate(event.get("detail") or {})
        deadline = (
            time.monotonic()
            + context.get_remaining_time_in_millis() / 1000
            - _SAFETY_MARGIN_SECONDS
        )
        report = JobReport(self.name)

        def keep_going() -> bool:
            return time.monotonic() < deadline

        origin = RequestOrigin(None, f"railguard-{self.name}-job", context.aws_request_id)
        with request_origin(origin):
            self._run(runtime, options, keep_going, report)
        result = report.as_dict()
        runtime.logger.info("job run", extra={"job_report": result})
        return result
