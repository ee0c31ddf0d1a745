"""The deploy rehearsal's worker, run by `.venv-sam/bin/python -m infra.rehearsal` (see
`infra.rehearsal`): the SAM CLI's pinned translator and cfn-lint live in that environment only.

One JSON request a line on stdin, one JSON answer a line on stdout, until stdin closes:
- `{"translate": <SAM template>, "parameters": {...}, "region": "..."}` answers
  `{"template": <CloudFormation template>}`, or `{"problems": [...]}` when the transform refuses;
- `{"lint": <CloudFormation template>, "region": "..."}` answers `{"problems": [...]}`.
A problem is `{"resource": ..., "check": ..., "message": ...}`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

import cfnlint.api
from cfnlint.config import ManualArgs
from samcli.commands.validate.lib.exceptions import InvalidSamDocumentException
from samcli.lib.translate.sam_template_validator import SamTemplateValidator
from samcli.yamlhelper import yaml_parse
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map

# The transform's messages name the resource this way.
_RESOURCE_ID = re.compile(r"Resource with id \[([^\]]+)\]")


class _BundledManagedPolicies:
    """The translator's names of AWS managed policies, from its own copy: no IAM call (`sam
    validate` asks IAM), and the template names none by name anyway."""

    def load(self) -> dict[str, str]:
        return get_bundled_managed_policy_map("aws") or {}


def translate(template: dict[str, Any], parameters: dict[str, str], region: str) -> dict[str, Any]:
    # What `sam validate` (without --lint) runs: the same class, so the same placeholder S3
    # locations for CodeUri and ContentUri, which the transform needs and local paths are not.
    validator = SamTemplateValidator(
        template, _BundledManagedPolicies(), region=region, parameter_overrides=parameters
    )
    try:
        return {"template": yaml_parse(validator.get_translated_template_if_valid())}
    except InvalidSamDocumentException as exc:
        causes = getattr(exc.__cause__, "causes", None) or [exc]
        problems = []
        for cause in causes:
            message = str(getattr(cause, "message", cause))
            found = _RESOURCE_ID.search(message)
            resource = found.group(1) if found else ""
            problems.append({"resource": resource, "check": "transform", "message": message})
        return {"problems": problems}


def lint(template: dict[str, Any], region: str) -> dict[str, Any]:
    matches = cfnlint.api.lint(json.dumps(template), config=ManualArgs(regions=[region]))
    problems = []
    for match in matches:
        path = list(getattr(match, "path", None) or [])
        resource = str(path[1]) if len(path) > 1 and path[0] == "Resources" else ""
        problems.append({"resource": resource, "check": match.rule.id, "message": match.message})
    return {"problems": problems}


def main() -> None:
    logging.disable(logging.WARNING)  # the SAM CLI's and cfn-lint's logs are not answers
    for line in sys.stdin:
        request = json.loads(line)
        if "translate" in request:
            answer = translate(request["translate"], request["parameters"], request["region"])
        else:
            answer = lint(request["lint"], request["region"])
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
