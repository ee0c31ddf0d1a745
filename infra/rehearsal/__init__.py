"""Deploy rehearsal: template.yaml expanded as CloudFormation's SAM transform expands it, for each
stage samconfig.toml deploys, then linted as CloudFormation.

`cfn-lint` and `sam validate --lint` read the template before the transform, so they check the
`AWS::Serverless::*` resources by schema only: a duplicate route, an unknown authorizer, a
timeout or runtime Lambda refuses, a malformed schedule or IAM action, a `!GetAtt` of an
attribute the resource lacks all pass them. Expanded, the transform refuses the first ones and
cfn-lint sees the rest on the resources CloudFormation will create.

The transform is `aws-sam-translator` as the SAM CLI pins it (infra/build/requirements-sam.txt),
so it and its cfn-lint run in `.venv-sam`, in one worker process per `Rehearsal`
(`python -m infra.rehearsal`, `__main__.py`), through the class `sam validate` uses: placeholder
S3 locations for the code, the stage's parameter overrides, the bundled names of AWS managed
policies (no AWS call). tests/deploy is the tier that runs it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from infra.build import ROOT
from infra.samconfig import Stage

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
# cfn-lint's "parameter not used" and "condition not used": they judge a whole template.
_WHOLE_TEMPLATE_CHECKS = frozenset({"W2001", "W8001"})
# Attributes a resource has only when configured so, which cfn-lint 1.58 does not check: a
# `!GetAtt Table.StreamArn` of a table without a stream passes it and fails the deployment.
CONDITIONAL_ATTRIBUTES = {("AWS::DynamoDB::Table", "StreamArn"): "StreamSpecification"}
# What CloudFormation resolves before the transform runs are the stage's parameters and these.
# `${Name}` and `${Name.Attribute}` in a Fn::Sub text (`${AWS::Region}` is no resource).
_SUB_NAMES = re.compile(r"\$\{([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_.]+))?\}")


class RehearsalError(Exception):
    """The rehearsal cannot run: no SAM environment, or a worker that died."""


@dataclass(frozen=True)
class Problem:
    """Why the transform or cfn-lint refuses: the resource (empty: the template), the check."""

    resource: str
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource or '(template)'}: [{self.check}] {self.message}"


@dataclass(frozen=True)
class Expansion:
    """One rehearsal: the CloudFormation template (None when the transform refused), and every
    problem the transform or cfn-lint found."""

    template: Mapping[str, Any] | None
    problems: tuple[Problem, ...]

    @property
    def resources(self) -> Mapping[str, Any]:
        resources: Mapping[str, Any] = (self.template or {}).get("Resources", {})
        return resources


class Rehearsal:
    """The worker process, started once and asked many times (its imports take seconds)."""

    def __init__(self, sam_python: Path = SAM_PYTHON) -> None:
        if not sam_python.is_file():
            raise RehearsalError(
                f"no SAM environment at {sam_python.parent.parent}: `make test` and `make validate`"
                " create .venv-sam from infra/build/requirements-sam.txt"
            )
        environment = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PYTHONPATH": str(ROOT)}
        self._process = subprocess.Popen(  # noqa: S603 - our own worker, no shell
            [str(sam_python), "-m", "infra.rehearsal"],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._process.stdin is None or self._process.stdout is None:  # both are PIPEs
            raise RehearsalError("the rehearsal worker has no pipes")
        self._stdin, self._stdout = self._process.stdin, self._process.stdout

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stdin.close()
        self._process.wait(timeout=30)

    def _ask(self, request: Mapping[str, Any]) -> dict[str, Any]:
        stdin, stdout = self._stdin, self._stdout
        try:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
        except BrokenPipeError as exc:
            raise RehearsalError("the rehearsal worker has stopped (its error is above)") from exc
        answer = stdout.readline()
        if not answer:
            raise RehearsalError("the rehearsal worker has stopped (its error is above)")
        result: dict[str, Any] = json.loads(answer)
        return result

    def rehearse(
        self,
        sam_template: Mapping[str, Any],
        stage: Stage,
        *,
        baseline: Mapping[str, Any] | None = None,
    ) -> Expansion:
        """Expand `sam_template` for `stage`, then lint what it became: all of it, or with a
        `baseline` (the expansion of a template known to lint clean) only the resources that
        differ from it and those they refer to, which is what a one-change copy needs."""
        translated = self._ask(
            {
                "translate": sam_template,
                "parameters": dict(stage.parameters),
                "region": stage.region,
            }
        )
        if "template" not in translated:
            return Expansion(None, _problems(translated))
        template: dict[str, Any] = translated["template"]
        if baseline is None:
            problems = _problems(self._ask({"lint": template, "region": stage.region}))
        elif (part := changed_part(template, baseline))["Resources"] or part["Outputs"]:
            problems = tuple(  # what the rest of the template uses is not in the part
                problem
                for problem in _problems(self._ask({"lint": part, "region": stage.region}))
                if problem.check not in _WHOLE_TEMPLATE_CHECKS
            )
        else:
            problems = ()  # the baseline's CloudFormation, which linted clean
        return Expansion(template, problems + tuple(missing_attributes(template)))


def _problems(answer: Mapping[str, Any]) -> tuple[Problem, ...]:
    return tuple(Problem(p["resource"], p["check"], p["message"]) for p in answer["problems"])


def changed_part(template: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, Any]:
    """`template` with only the resources (and outputs) that differ from `baseline`'s, and every
    resource they refer to, directly or not, so each reference still resolves."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    before: Mapping[str, Any] = baseline.get("Resources", {})
    outputs = {
        name: output
        for name, output in template.get("Outputs", {}).items()
        if baseline.get("Outputs", {}).get(name) != output
    }
    wanted = [name for name, body in resources.items() if before.get(name) != body]
    wanted.extend(name for output in outputs.values() for name in references(output))
    kept: dict[str, Any] = {}
    while wanted:
        name = wanted.pop()
        if name in kept or name not in resources:
            continue
        kept[name] = resources[name]
        wanted.extend(references(resources[name]))
    return {**template, "Resources": kept, "Outputs": outputs}


def missing_attributes(template: Mapping[str, Any]) -> Iterator[Problem]:
    """Each `Fn::GetAtt` (or `${X.Attr}` in a Fn::Sub) of an attribute its resource has only
    when configured so (`CONDITIONAL_ATTRIBUTES`), where it is not."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    for name, body in resources.items():
        for target, attribute in attributes_named(body):
            target_body = resources.get(target, {})
            needs = CONDITIONAL_ATTRIBUTES.get((target_body.get("Type"), attribute))
            if needs is not None and needs not in target_body.get("Properties", {}):
                yield Problem(
                    name, "attribute", f"Fn::GetAtt {target}.{attribute}: {target} has no {needs}"
                )


def references(value: Any) -> Iterator[str]:
    """Every logical id `value` names: in Ref, Fn::GetAtt, Fn::Sub or DependsOn."""
    return (name for name, _ in _named(value))


def attributes_named(value: Any) -> Iterator[tuple[str, str]]:
    """Every (logical id, attribute) `value` reads with Fn::GetAtt or a Fn::Sub `${X.Attr}`."""
    return ((name, attribute) for name, attribute in _named(value) if attribute)


def _named(value: Any) -> Iterator[tuple[str, str]]:
    """(logical id, attribute, empty for a Ref or DependsOn) of each name in `value`."""
    if isinstance(value, list):
        for item in value:
            yield from _named(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                yield item, ""
            elif key == "Fn::GetAtt":
                target, _, attribute = (
                    (str(item[0]), "", str(item[1]))
                    if isinstance(item, list)
                    else str(item).partition(".")
                )
                yield target, attribute
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                yield from _SUB_NAMES.findall(str(text))
                yield from _named(item[1] if isinstance(item, list) else None)
            elif key == "DependsOn":
                yield from ((name, "") for name in ([item] if isinstance(item, str) else item))
            else:
                yield from _named(item)
