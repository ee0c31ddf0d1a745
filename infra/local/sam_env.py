"""The environment-variables file of `sam local` (`--env-vars`), generated from the template.

`sam local start-api --env-vars FILE` reads `{"<FunctionLogicalId>": {"VAR": "value"}}` and gives
a value only to variables the template declares for that function: the others are ignored without
a word. So the file holds, for every function, each variable of its template environment resolved
against what the emulator provisioned (the same `Template.functions` the local stack runs), and
`AWS_ENDPOINT_URL` pointing at the emulator as SAM's containers reach it. The template declares
`AWS_ENDPOINT_URL` empty in its Globals for that override to apply; an empty value means AWS.

Credentials and region cannot be in the file: Lambda reserves their names, so the template cannot
declare them, and SAM sets them in the container from its own AWS session (the shell's variables,
`--region`). The file is generated (under .aws-sam/, git-ignored), never edited by hand.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from pathlib import Path

from infra.template import Intrinsics, Template, TemplateError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ENV_FILE = ROOT / ".aws-sam" / "local" / "env.json"
# How a container reaches the machine that runs it: Docker Desktop and Finch define this name;
# Docker Engine on Linux does with `--add-host host.docker.internal:host-gateway`.
DEFAULT_CONTAINER_HOST = "host.docker.internal"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"

SamEnvironment = dict[str, dict[str, str]]


def endpoint_url(host: str, port: int) -> str:
    """`http://<host>:<port>`, an IPv6 address in brackets."""
    try:
        is_ipv6 = ipaddress.ip_address(host).version == 6
    except ValueError:  # a host name
        is_ipv6 = False
    return f"http://[{host}]:{port}" if is_ipv6 else f"http://{host}:{port}"


def sam_environment(
    template: Template, intrinsics: Intrinsics, endpoint_url: str
) -> SamEnvironment:
    """Every function's template environment, resolved, with `AWS_ENDPOINT_URL` = `endpoint_url`.

    Raises `TemplateError` naming the functions whose template does not declare
    `AWS_ENDPOINT_URL`: SAM would drop the override, and they would call AWS.
    """
    functions = template.functions(intrinsics)
    undeclared = [f.logical_id for f in functions if ENDPOINT_VARIABLE not in f.environment]
    if undeclared:
        raise TemplateError(
            template.path,
            f"{', '.join(undeclared)}: sam local overrides only declared variables; declare"
            f' {ENDPOINT_VARIABLE}: "" in Globals.Function.Environment.Variables',
        )
    return {
        function.logical_id: {**function.environment, ENDPOINT_VARIABLE: endpoint_url}
        for function in functions
    }


def write_sam_environment(environment: Mapping[str, Mapping[str, str]], path: Path) -> Path:
    """Write the `--env-vars` JSON to `path` (creating its directory); return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(environment, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
