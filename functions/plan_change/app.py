"""The operator's plan change (contract section 11): no route reaches this function; an operator
invokes it (`make plan WORKSPACE=ws_... PLAN=pro` against the local stack, `aws lambda invoke`
in AWS) with `{"detail": {"workspace_id": ..., "plan": ...}}`. It moves the live workspace to the
plan, recorded as `workspace.plan_changed` {from, to}; the authorizer reads it within 2 s.

An unknown plan, a malformed id, or an unknown or deleted workspace fails the invocation with
the reason (pydantic's, or `ValidationFailed`/`NotFound`), and changes nothing."""

from __future__ import annotations

from pydantic import Field, field_validator

from railguard.access.plans import Plan
from railguard.audit.trail import Actor
from railguard.core.runtime import Runtime
from railguard.core.settings import AuditSettings
from railguard.jobs import JobFunction, JobOptions, JobReport, KeepGoing
from railguard.kinds import WORKSPACE
from railguard.workspaces import Workspaces

NAME = "plan"


class PlanChange(JobOptions):
    """What the operator asks for; a run without it (`{}`) is refused."""

    workspace_id: str = Field(description="The workspace to change: ws_...")
    plan: Plan = Field(description="The plan it moves to")

    @field_validator("workspace_id")
    @classmethod
    def _a_workspace_id(cls, value: str) -> str:
        if not WORKSPACE.is_id(value):
            raise ValueError("not a workspace id (ws_...)")
        return value


def _run(
    runtime: Runtime[AuditSettings],
    options: PlanChange,
    _keep_going: KeepGoing,
    report: JobReport,
) -> None:
    workspaces = Workspaces(runtime.table, runtime.clock, runtime.audit_trail)
    before, after = workspaces.change_plan(options.workspace_id, options.plan, by=Actor.job(NAME))
    report.count("changed" if before != after else "unchanged")


job = JobFunction(NAME, AuditSettings, PlanChange, _run)
lambda_handler = job.handler
