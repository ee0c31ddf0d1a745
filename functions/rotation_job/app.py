"""The rotation job (daily; contract section 12): ends rotated API keys' grace periods, rotates
the access-token signing key when it is old (or when asked to, by hand), and seals again, under
the current KMS key, the secrets sealed under another."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from railguard.api_keys.expiry import KeyExpiry
from railguard.core.runtime import Runtime
from railguard.core.settings import AuditSettings, EnvelopeSettings, variable
from railguard.crypto.sealing import Resealing
from railguard.crypto.signing_keys import SigningKeyRotation
from railguard.jobs import JobFunction, JobOptions, JobReport, KeepGoing


@dataclass(frozen=True, kw_only=True)
class RotationSettings(AuditSettings, EnvelopeSettings):
    """Seals new signing keys under KMS; marks rotated-out keys expired, on the trail."""

    signing_key_rotation_days: int = variable(
        "SIGNING_KEY_ROTATION_DAYS", default="30", integer_range=(1, 365)
    )
    signing_key_overlap_seconds: int = variable(
        "SIGNING_KEY_OVERLAP_SECONDS", default="900", integer_range=(0, 86_400)
    )


class RotationOptions(JobOptions):
    rotate_signing_key_now: bool = Field(
        default=False, description="Rotate whatever the key's age (a suspected compromise)"
    )
    overlap_seconds: int | None = Field(
        default=None, ge=0, le=86_400, description="This run's overlap instead of the setting's"
    )


def _run(
    runtime: Runtime[RotationSettings],
    options: RotationOptions,
    keep_going: KeepGoing,
    report: JobReport,
) -> None:
    settings = runtime.settings
    expiry = KeyExpiry(runtime.table, runtime.audit_trail, runtime.clock, job="rotation")
    expiry.expire_due(keep_going, report, rotated_only=True)
    overlap = options.overlap_seconds
    SigningKeyRotation(runtime.table, runtime.envelope, runtime.clock).rotate(
        report,
        max_age_seconds=settings.signing_key_rotation_days * 86_400,
        overlap_seconds=settings.signing_key_overlap_seconds if overlap is None else overlap,
        now=options.rotate_signing_key_now,
    )
    Resealing(runtime.table, runtime.envelope).reseal_stale(keep_going, report)


job = JobFunction("rotation", RotationSettings, RotationOptions, _run)
lambda_handler = job.handler
