"""Issue 22. template.yaml as CloudFormation will create it, for every stage samconfig.toml
deploys: expanded by the SAM CLI's pinned translator, linted by cfn-lint, and checked where a
mistake would be a security hole (checks.py)."""

from __future__ import annotations

import pytest

from tests.deploy.checks import CHECKS
from tests.deploy.conftest import STAGES, Stages


def test_every_deployed_stage_is_rehearsed() -> None:
    # Given samconfig.toml's deploy environments
    # Then the tier rehearses each of them (a new one joins by itself)
    assert set(STAGES) >= {"dev", "staging", "prod"}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_the_template_expands_and_lints_clean(stages: Stages, stage: str) -> None:
    # Given the template expanded for the stage's parameters
    rehearsed = stages[stage]
    # Then the transform accepted it, cfn-lint finds nothing in what it became, and the local
    # stack reads the same template
    problems = [str(problem) for problem in rehearsed.expansion.problems]
    assert rehearsed.expansion.template is not None, "\n".join(problems)
    assert not problems, "\n".join(problems)
    assert rehearsed.local_error is None


@pytest.mark.parametrize("check", sorted(CHECKS))
@pytest.mark.parametrize("stage", sorted(STAGES))
def test_the_expansion_keeps_its_security(stages: Stages, stage: str, check: str) -> None:
    # Given the template expanded for the stage, and as the local stack reads it
    rehearsed = stages[stage]
    assert rehearsed.template is not None, rehearsed.local_error
    # When the check reads the expansion
    found = list(CHECKS[check](rehearsed.expansion, rehearsed.template))
    # Then it finds nothing
    assert not found, "\n".join(found)
