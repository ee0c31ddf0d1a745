"""The deploy rehearsal's tier: one worker (`infra.rehearsal.Rehearsal`) per session, and each
stage of samconfig.toml expanded and linted once, when a test first asks for it. The tier runs
whole on one xdist worker (tests/conftest.py), so that is once per `make test`. Without
`.venv-sam` (`make test` and `make validate` create it) the tier fails, saying so."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.rehearsal import Expansion, Rehearsal, RehearsalError
from infra.samconfig import Stage, deploy_stages
from infra.template import Template, TemplateError, parse_yaml, read_template
from tests.deploy.checks import findings

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
STAGES = {stage.name: stage for stage in deploy_stages()}


@dataclass(frozen=True)
class Rehearsed:
    """A template expanded for a stage, and the same template as the local stack reads it (None
    when it cannot: `local_error` says why)."""

    stage: Stage
    expansion: Expansion
    template: Template | None
    local_error: str | None = None

    def refusals(self) -> list[str]:
        """Why the transform, cfn-lint, the local stack's reader or checks.py refuse it."""
        lines = [str(problem) for problem in self.expansion.problems]
        if self.local_error is not None:
            lines.append(f"(local stack): {self.local_error}")
        if self.expansion.template is not None and self.template is not None:
            lines.extend(findings(self.expansion, self.template))
        return lines


def sam_document() -> dict[str, Any]:
    document: dict[str, Any] = parse_yaml(TEMPLATE.read_text(encoding="utf-8"))
    return document


def rehearse(
    rehearsal: Rehearsal,
    document: dict[str, Any],
    stage: Stage,
    baseline: Rehearsed | None = None,
) -> Rehearsed:
    """`document` rehearsed for `stage`; with a `baseline` (the stage's own rehearsal), cfn-lint
    reads only what differs from it (`infra.rehearsal.changed_part`)."""
    expansion = rehearsal.rehearse(
        document, stage, baseline=baseline.expansion.template if baseline else None
    )
    try:
        template = read_template(TEMPLATE, document, stage.parameters)
    except TemplateError as exc:
        return Rehearsed(stage, expansion, None, str(exc))
    return Rehearsed(stage, expansion, template)


@pytest.fixture(scope="session")
def rehearsal() -> Iterator[Rehearsal]:
    try:
        worker = Rehearsal()
    except RehearsalError as exc:
        pytest.fail(str(exc), pytrace=False)
    with worker:
        yield worker


class Stages:
    """Each stage's rehearsal of the real template, made once. The first stage's expansion is
    linted whole; another stage's only where it differs from the first's (cfn-lint is given no
    parameters, so the same CloudFormation lints the same: today the three are identical, the
    parameters staying Refs), which saves two thirds of the tier's lint time."""

    def __init__(self, rehearsal: Rehearsal) -> None:
        self._rehearsal = rehearsal
        self._done: dict[str, Rehearsed] = {}

    def __getitem__(self, name: str) -> Rehearsed:
        if name not in self._done:
            first = next(iter(STAGES))
            baseline = None if name == first else self[first]
            if baseline is not None and baseline.expansion.problems:
                baseline = None  # a baseline must have linted clean
            self._done[name] = rehearse(self._rehearsal, sam_document(), STAGES[name], baseline)
        return self._done[name]


@pytest.fixture(scope="session")
def stages(rehearsal: Rehearsal) -> Stages:
    return Stages(rehearsal)
