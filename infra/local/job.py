"""`make job NAME=<job>`: run one scheduled job once, print its report (expiry, rotation,
retention, anchor, usage).
`make plan WORKSPACE=ws_... PLAN=pro` runs the operator's plan change the same way (`plan`).

The job runs as its schedule runs it (the template's function, in a Lambda-like worker process,
with a scheduled event), against the AWS endpoint in AWS_ENDPOINT_URL, by default the emulator of
the running local stack (127.0.0.1:$AWS_PORT). The stack's resources are found by provisioning,
which reuses what exists. DETAIL (JSON) is what a run by hand may ask for, e.g. for rotation
`{"rotate_signing_key_now": true, "overlap_seconds": 0}`.
Exit status: 0 with the report on stdout; 1 when the job failed; 2 when it could not start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.aws import AwsEndpoint
from infra.local.errors import StartupError
from infra.local.provisioning import provision
from infra.local.runtime import FunctionRuntime
from infra.local.stack import DEFAULT_TEMPLATE
from infra.template import TemplateError, load_template

JOBS = {
    "anchor": "AnchorJobFunction",
    "expiry": "ExpiryJobFunction",
    "rotation": "RotationJobFunction",
    "retention": "RetentionJobFunction",
    "usage": "UsageJobFunction",
    # The operator's act, not a schedule's: its DETAIL is `{"workspace_id", "plan"}`.
    "plan": "PlanChangeFunction",
}
_FAILED = 1
_CANNOT_START = 2


def scheduled_event(job: str, detail: Mapping[str, Any], region: str) -> dict[str, Any]:
    """What an EventBridge schedule delivers (with `detail` empty when the schedule runs it)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:000000000000:rule/railguard-{job}"],
        "detail": dict(detail),
    }


def run_job(
    job: str, detail: Mapping[str, Any], endpoint: AwsEndpoint, template_path: Path
) -> dict[str, Any]:
    """The job's report; `StartupError` or `TemplateError` when it cannot run, `RuntimeError`
    (with Lambda's error type and message) when the job failed."""
    template = load_template(template_path)
    provisioning = provision(template, endpoint)
    (function,) = [
        f for f in template.functions(provisioning.intrinsics) if f.logical_id == JOBS[job]
    ]
    runtime = FunctionRuntime([function], endpoint, max_instances=1)
    try:
        result = runtime.invoke(function.logical_id, scheduled_event(job, detail, endpoint.region))
    finally:
        runtime.stop()
    if result.error is not None:
        raise RuntimeError(f"{result.error.error_type}: {result.error.error_message}")
    report: dict[str, Any] = result.payload
    return report


def main(argv: Sequence[str] | None = None, environment: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(prog="make job", description=__doc__.split("\n")[0])
    parser.add_argument("name", choices=sorted(JOBS))
    parser.add_argument("--detail", default="{}", help="options of a run by hand, as JSON")
    arguments = parser.parse_args(argv)
    try:
        detail = json.loads(arguments.detail)
    except json.JSONDecodeError as error:
        print(f"error: DETAIL is not JSON: {error}", file=sys.stderr)
        return _CANNOT_START
    url = environment.get("AWS_ENDPOINT_URL") or (
        f"http://127.0.0.1:{environment.get('AWS_PORT', '4566')}"
    )
    template_path = Path(environment.get("TEMPLATE", str(DEFAULT_TEMPLATE)))
    try:
        report = run_job(arguments.name, detail, AwsEndpoint(url=url), template_path)
    except (StartupError, TemplateError) as error:
        print(f"error: {error}", file=sys.stderr)
        return _CANNOT_START
    except RuntimeError as error:
        print(f"job {arguments.name} failed: {error}", file=sys.stderr)
        return _FAILED
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
