"""Loading function modules the way Lambda does (each `functions/<name>/app.py` is a top-level
`app` module of its own), under distinct names so several can live in one test process. Each
module's `lambda_handler` makes its AWS calls as its function of the template (`tests.support.iam`),
so the integration tier checks them against that function's IAM policy."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from infra.template import SERVERLESS_FUNCTION, load_template
from tests.support.http_api import HttpRequest, MatchedRoute, http_api_event
from tests.support.iam import as_function
from tests.support.lambda_context import FakeLambdaContext

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = ROOT / "functions"
_PREFIX = "railguard_function_"


@cache
def function_ids() -> dict[str, str]:
    """The template's function of each code directory (`functions/<name>/`)."""
    template = load_template(ROOT / "template.yaml")
    return {
        Path(str(resource.properties["CodeUri"])).name: resource.logical_id
        for resource in template.resources_of_type(SERVERLESS_FUNCTION)
    }


def load_function(name: str) -> ModuleType:
    module_name = f"{_PREFIX}{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, FUNCTIONS_DIR / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    wrapped = as_function(function_ids()[name], module.lambda_handler)
    module.lambda_handler = wrapped  # type: ignore[attr-defined]  # every app.py defines one
    return module


def run_job(name: str, **detail: Any) -> dict[str, Any]:
    """A scheduled job's handler, invoked as its schedule (or `make job`) invokes it."""
    module = load_function(f"{name}_job")
    report: dict[str, Any] = module.lambda_handler(
        {"detail-type": "Scheduled Event", "detail": detail}, FakeLambdaContext()
    )
    return report


def loaded_functions() -> list[ModuleType]:
    return [module for name, module in sys.modules.items() if name.startswith(_PREFIX)]


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: dict[str, str]
    body: str
    cookies: tuple[str, ...] = ()  # Set-Cookie values (payload 2.0 `cookies`)

    def json(self) -> Any:
        return json.loads(self.body)


def call_route(
    handler: Any,
    request: HttpRequest,
    route_key: str,
    *,
    path_parameters: dict[str, str] | None = None,
    authorizer_context: dict[str, str] | None = None,
) -> HttpResult:
    """Invoke a function's handler with the gateway's event for `request` on `route_key`."""
    event = http_api_event(
        request, MatchedRoute(route_key, path_parameters or {}), authorizer_context
    )
    result = handler(event, FakeLambdaContext())
    headers = {name.lower(): value for name, value in (result.get("headers") or {}).items()}
    cookies = tuple(result.get("cookies") or ())
    return HttpResult(result["statusCode"], headers, result.get("body") or "", cookies)
