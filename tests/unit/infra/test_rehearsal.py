"""The deploy rehearsal's pieces that need no SAM environment: samconfig's stages, the part of a
one-change copy cfn-lint reads, and the attributes cfn-lint does not check (issue 22)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.rehearsal import changed_part, missing_attributes, references
from infra.samconfig import SamConfigError, Stage, deploy_stages

SAMCONFIG = Path(__file__).resolve().parents[3] / "samconfig.toml"


def test_the_deployed_stages_are_samconfigs_deploy_environments() -> None:
    # Given the repository's samconfig.toml
    stages = {stage.name: stage for stage in deploy_stages(SAMCONFIG)}
    # Then each environment with deploy overrides is a stage, with its region and overrides
    assert stages == {
        "dev": Stage("dev", "us-east-1", {"Stage": "dev", "LogLevel": "DEBUG"}),
        "staging": Stage("staging", "us-east-1", {"Stage": "staging", "LogLevel": "INFO"}),
        "prod": Stage("prod", "us-east-1", {"Stage": "prod", "LogLevel": "INFO"}),
    }


def test_malformed_overrides_are_refused(tmp_path: Path) -> None:
    # Given a deploy environment whose override has no value
    path = tmp_path / "samconfig.toml"
    path.write_text('[dev.deploy.parameters]\nregion = "x"\nparameter_overrides = "Stage"\n')
    # When its stages are read
    with pytest.raises(SamConfigError) as raised:
        deploy_stages(path)
    # Then the error names the file and the override
    assert str(path) in str(raised.value)
    assert "['Stage']" in str(raised.value)


BASELINE: dict[str, Any] = {
    "Parameters": {"Stage": {"Type": "String"}},
    "Resources": {
        "Key": {"Type": "AWS::KMS::Key"},
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"Key": {"Ref": "Key"}}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"R": {"Fn::Sub": "${Table.Arn}/*"}}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Ref": "Role"}}},
        "Other": {"Type": "AWS::Lambda::Function", "Properties": {"Timeout": 3}},
    },
    "Outputs": {"Name": {"Value": {"Ref": "Other"}}},
}


def test_the_changed_part_keeps_what_the_change_refers_to() -> None:
    # Given a copy in which one function changed
    changed = {**BASELINE, "Resources": {**BASELINE["Resources"]}}
    changed["Resources"]["Fn"] = {**changed["Resources"]["Fn"], "DependsOn": "Other"}
    # When the part cfn-lint reads is taken
    part = changed_part(changed, BASELINE)
    # Then it is the function and all it refers to, directly or not, and no unchanged output
    assert set(part["Resources"]) == {"Fn", "Role", "Table", "Key", "Other"}
    assert part["Outputs"] == {}
    assert part["Parameters"] == BASELINE["Parameters"]


def test_references_are_read_in_every_form() -> None:
    # Given a value naming resources every way a template can
    value = {
        "A": {"Fn::Sub": ["${X.Arn}:${AWS::Region}:${Y}", {"V": {"Ref": "W"}}]},
        "B": {"Fn::GetAtt": "T.StreamArn"},
        "DependsOn": ["D"],
    }
    # Then each is found (a pseudo parameter is none)
    assert list(references(value)) == ["X", "Y", "W", "T", "D"]


def test_a_stream_the_table_lacks_is_a_problem() -> None:
    # Given a function reading the stream of a table that has none, and one of a table that has
    template = {
        "Resources": {
            "Plain": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
            "Streamed": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {"StreamSpecification": {"StreamViewType": "KEYS_ONLY"}},
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "A": {"Fn::GetAtt": ["Plain", "StreamArn"]},
                    "B": {"Fn::Sub": "${Streamed.StreamArn}"},
                },
            },
        }
    }
    # When its attributes are checked
    problems = [str(problem) for problem in missing_attributes(template)]
    # Then only the missing stream is named, with who reads it
    assert problems == [
        "Fn: [attribute] Fn::GetAtt Plain.StreamArn: Plain has no StreamSpecification"
    ]
