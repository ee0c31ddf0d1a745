"""Issue 22. One-change copies of the real template, each a mistake AWS would refuse or deploy
wrongly, each of which the rehearsal must refuse, saying why. The first seven passed
`cfn-lint template.yaml` and `sam validate --lint`; the others would open a hole.

Each copy is made from template.yaml as it is now (its first route, function, schedule...), so
the copies follow the template's changes. A copy goes through the same path as the stages (the
transform, then cfn-lint, then checks.py), but cfn-lint reads only what the change touched and
what that refers to (`infra.rehearsal.changed_part`): the rest is the stage's, linted clean.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from infra.rehearsal import Rehearsal
from tests.deploy.conftest import STAGES, Stages, rehearse, sam_document

Document = dict[str, Any]
FUNCTION = "AWS::Serverless::Function"


# ---------------------------------------------------------------- what the changes pick


def functions(document: Document) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, body in document["Resources"].items():
        if body["Type"] == FUNCTION:
            yield name, body["Properties"]


def events(document: Document, event_type: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, properties in functions(document):
        for event_name, event in (properties.get("Events") or {}).items():
            if event["Type"] == event_type:
                yield name, event_name, event["Properties"]


def protected_route(document: Document) -> dict[str, Any]:
    return next(
        spec
        for _, _, spec in events(document, "HttpApi")
        if spec.get("Auth", {}).get("Authorizer") != "NONE"
    )


def first_statement(document: Document, effect: str = "Allow") -> dict[str, Any]:
    return next(
        statement
        for _, properties in functions(document)
        for policy in properties.get("Policies", [])
        for statement in policy.get("Statement", [])
        if statement["Effect"] == effect
    )


def tables(document: Document) -> Iterator[dict[str, Any]]:
    for body in document["Resources"].values():
        if body["Type"] == "AWS::DynamoDB::Table":
            yield body["Properties"]


# ---------------------------------------------------------------- the changes


def duplicate_route(document: Document) -> None:
    owner, event_name, spec = next(events(document, "HttpApi"))
    other = next(properties for name, properties in functions(document) if name != owner)
    other.setdefault("Events", {})[f"{event_name}Again"] = {"Type": "HttpApi", "Properties": spec}


def unknown_authorizer(document: Document) -> None:
    protected_route(document)["Auth"] = {"Authorizer": "NoSuchAuthorizer"}


def timeout_901(document: Document) -> None:
    next(functions(document))[1]["Timeout"] = 901


def runtime_python399(document: Document) -> None:
    document["Globals"]["Function"]["Runtime"] = "python3.99"


def schedule_rate_1_hours(document: Document) -> None:
    next(events(document, "Schedule"))[2]["Schedule"] = "rate(1 hours)"


def iam_action_with_a_space(document: Document) -> None:
    first_statement(document)["Action"] = ["dynamodb GetItem"]


def stream_the_table_lacks(document: Document) -> None:
    table = next(
        name
        for name, body in document["Resources"].items()
        if body["Type"] == "AWS::DynamoDB::Table"
        and "StreamSpecification" not in body["Properties"]
    )
    variables = next(functions(document))[1].setdefault("Environment", {"Variables": {}})
    variables["Variables"]["STREAM_ARN"] = {"Fn::GetAtt": [table, "StreamArn"]}


def route_without_authorizer(document: Document) -> None:
    protected_route(document)["Auth"] = {"Authorizer": "NONE"}


def no_point_in_time_recovery_in_prod(document: Document) -> None:
    document.setdefault("Conditions", {})["IsProd"] = {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    next(tables(document))["PointInTimeRecoverySpecification"] = {
        "PointInTimeRecoveryEnabled": {"Fn::If": ["IsProd", False, True]}
    }


def no_encryption(document: Document) -> None:
    next(tables(document)).pop("SSESpecification")


def no_deletion_protection_in_staging(document: Document) -> None:
    document.setdefault("Conditions", {})["IsStaging"] = {
        "Fn::Equals": [{"Ref": "Stage"}, "staging"]
    }
    next(tables(document))["DeletionProtectionEnabled"] = {"Fn::If": ["IsStaging", False, True]}


def role_allows_every_action(document: Document) -> None:
    first_statement(document)["Action"] = "dynamodb:*"


def role_allows_every_resource(document: Document) -> None:
    first_statement(document)["Resource"] = "*"


def shared_role(document: Document) -> None:
    (first, _), (_, second) = list(functions(document))[:2]
    second.pop("Policies", None)
    second["Role"] = {"Fn::GetAtt": [f"{first}Role", "Arn"]}


@dataclass(frozen=True)
class Mutant:
    change: Callable[[Document], None]
    by: str  # who refuses: "transform", a cfn-lint rule, "attribute", or a check of checks.py
    refusal: str  # what its message says
    stage: str = "dev"

    @property
    def name(self) -> str:
        return self.change.__name__


MUTANTS = (
    # What cfn-lint and `sam validate --lint` passed on the template as written (issue 22).
    Mutant(duplicate_route, "transform", "defined multiple times"),
    Mutant(unknown_authorizer, "transform", "Unable to set Authorizer [NoSuchAuthorizer]"),
    Mutant(timeout_901, "E3717", "901 is greater than the maximum of 900"),
    Mutant(runtime_python399, "E3030", "'python3.99' is not one of"),
    Mutant(schedule_rate_1_hours, "E3027", "'hours' is not one of"),
    Mutant(iam_action_with_a_space, "W3037", "'dynamodb GetItem' is not a valid action"),
    Mutant(stream_the_table_lacks, "attribute", "StreamArn: Table has no StreamSpecification"),
    # What would open a hole.
    Mutant(route_without_authorizer, "routes are guarded", "must run the Lambda authorizer"),
    Mutant(
        no_point_in_time_recovery_in_prod,
        "tables are protected",
        "PointInTimeRecoveryEnabled is",
        "prod",
    ),
    Mutant(no_encryption, "tables are protected", "SSEEnabled is None"),
    Mutant(
        no_deletion_protection_in_staging,
        "tables are protected",
        "which is not true in stage staging",
        "staging",
    ),
    Mutant(role_allows_every_action, "roles are narrow", "allows the action 'dynamodb:*'"),
    Mutant(role_allows_every_resource, "roles are narrow", "on the resource '*'"),
    Mutant(shared_role, "roles are narrow", "shares the role"),
)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mutant: mutant.name)
def test_a_one_change_copy_is_refused(rehearsal: Rehearsal, stages: Stages, mutant: Mutant) -> None:
    # Given the real template with one change
    document = copy.deepcopy(sam_document())
    mutant.change(document)
    # When it is rehearsed for a stage, as the stage's own template was
    refusals = rehearse(rehearsal, document, STAGES[mutant.stage], stages[mutant.stage]).refusals()
    # Then it is refused, by what should refuse it, saying why
    expected = [line for line in refusals if f"[{mutant.by}]" in line and mutant.refusal in line]
    assert expected, "\n".join(refusals) or "not refused"


def test_the_real_template_is_refused_nothing(rehearsal: Rehearsal, stages: Stages) -> None:
    # Given the real template, unchanged, rehearsed the way the copies are
    rehearsed = rehearse(rehearsal, sam_document(), STAGES["dev"], stages["dev"])
    # Then nothing refuses it: each copy's refusal is its change's
    assert rehearsed.refusals() == []
