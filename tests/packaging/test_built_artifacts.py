"""Every function imports from the built artifacts alone: its own code and the built layer.

The session fixture (conftest.py) provides two current builds, building when stale: for arm64 into
`.aws-sam/build`, which deploys, and for this machine into `.aws-sam/host/build`. aarch64
extensions cannot load on x86_64, so the imports use the host build, made from the same template
and sources with `Architecture` overridden. Each import runs in a fresh interpreter started with
`-I -S` (no site-packages, no PYTHON* variables, no current directory) whose sys.path is the
function's directory and the layer's `python/` before the standard library, as /var/task and
/opt/python are on Lambda. So a dependency missing from the layer, a module the build left out,
or a handler module that needs configuration or AWS at import time fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from importlib.metadata import distributions
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from infra.build import ROOT, TEMPLATE, Build, native_libraries
from infra.build.sizes import UNZIPPED_QUOTA, measure
from infra.template import (
    SERVERLESS_FUNCTION,
    SERVERLESS_LAYER,
    Template,
    load_template,
    merge_globals,
)

if TYPE_CHECKING:
    from tests.packaging.conftest import Builds

# A cold build (an empty SAM cache downloads the layer's dependencies twice) takes minutes, and the
# first test's timeout covers the session fixture's setup.
pytestmark = pytest.mark.timeout(900)

LOCK = ROOT / "layers" / "security" / "requirements.txt"
# The layer's native extensions: each must be built for the architecture of its build.
NATIVE_PACKAGES = ("cryptography", "pydantic_core", "_argon2_cffi_bindings", "_cffi_backend")


@dataclass(frozen=True)
class Function:
    logical_id: str
    handler: str  # module.attribute, from template.yaml


@dataclass(frozen=True)
class Deployment:
    """Where a built function's code and layers are, and the sys.path Lambda would give them."""

    code_dir: Path
    layer_dirs: tuple[Path, ...]

    @property
    def import_paths(self) -> list[str]:
        # Lambda's order: /var/task, /opt/python/lib/python3.13/site-packages, /opt/python.
        layer_paths = [
            path
            for layer in self.layer_dirs
            for path in (
                layer / "python" / "lib" / "python3.13" / "site-packages",
                layer / "python",
            )
            if path.is_dir()
        ]
        return [str(self.code_dir), *map(str, layer_paths)]


@cache
def _template(path: Path) -> Template:
    return load_template(path)


def _functions(template_path: Path) -> dict[str, Function]:
    template = _template(template_path)
    return {
        resource.logical_id: Function(
            resource.logical_id,
            str(merge_globals(template.function_globals, resource.properties)["Handler"]),
        )
        for resource in template.resources_of_type(SERVERLESS_FUNCTION)
    }


def _deployment(build: Build, logical_id: str) -> Deployment:
    """The function's artifacts, found as the built template places them."""
    template = _template(build.template)
    resource = template.resources[logical_id]
    properties = merge_globals(template.function_globals, resource.properties)
    layer_dirs = []
    for layer in properties.get("Layers", []):
        layer_resource = template.resources[layer["Ref"]]
        assert layer_resource.type == SERVERLESS_LAYER
        layer_dirs.append(build.directory / layer_resource.properties["ContentUri"])
    return Deployment(build.directory / properties["CodeUri"], tuple(layer_dirs))


def _layer_dirs(build: Build) -> list[Path]:
    template = _template(build.template)
    return [
        build.directory / resource.properties["ContentUri"]
        for resource in template.resources_of_type(SERVERLESS_LAYER)
    ]


# Run by a bare interpreter: put the artifacts first on sys.path, import, and say where every
# loaded module came from. Only the artifacts and the standard library are allowed.
_IMPORT = r"""
import importlib, json, os, sys, sysconfig
paths, modules, handler = json.loads(sys.argv[1])
sys.path[:0] = paths
for name in modules:
    importlib.import_module(name)
resolved = None
if handler:
    module_name, _, attribute = handler.rpartition(".")
    resolved = getattr(importlib.import_module(module_name), attribute)
stdlib = os.path.join(sysconfig.get_path("stdlib"), "")
site = os.path.join(stdlib, "site-packages", "")
roots = tuple(os.path.join(path, "") for path in paths)
def allowed(file):
    return file.startswith(roots) or (file.startswith(stdlib) and not file.startswith(site))
print(json.dumps({
    "callable": callable(resolved),
    "outside": {
        name: module.__file__
        for name, module in sorted(sys.modules.items())
        if getattr(module, "__file__", None) and not allowed(module.__file__)
    },
    "sys_path": [p for p in sys.path if p not in paths],
    "modules": len(sys.modules),
}))
"""


@pytest.fixture(scope="session")
def bytecode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bytecode cache for every import: outside the artifacts, which stay as built."""
    return tmp_path_factory.mktemp("pycache")


def _import_in_isolation(
    paths: list[str],
    cwd: Path,
    bytecode: Path,
    *,
    modules: tuple[str, ...] = (),
    handler: str = "",
) -> dict[str, Any]:
    command = [sys.executable, "-I", "-S", "-X", f"pycache_prefix={bytecode}", "-c", _IMPORT]
    completed = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [*command, json.dumps([paths, modules, handler])],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},  # nothing of Lambda's, nor of AWS's
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report: dict[str, Any] = json.loads(completed.stdout)
    return report


SOURCE_FUNCTIONS = _functions(TEMPLATE)


def test_every_function_is_built_with_its_handler(builds: Builds) -> None:
    # Given the functions template.yaml declares (each AWS::Serverless::Function, jobs included)
    assert {"AuthorizerFunction", "ExpiryJobFunction", "RetentionJobFunction"} <= set(
        SOURCE_FUNCTIONS
    )
    for build in {builds.deployed, builds.host}:
        # When reading the template each build wrote
        built = _functions(build.template)
        # Then it has the same functions, each with the same handler and its own built code
        assert built == SOURCE_FUNCTIONS, build.directory
        for logical_id in built:
            assert (_deployment(build, logical_id).code_dir / "app.py").is_file(), logical_id


@pytest.mark.parametrize("function", SOURCE_FUNCTIONS.values(), ids=lambda f: f.logical_id)
def test_handler_imports_from_the_built_artifacts_alone(
    builds: Builds, function: Function, tmp_path: Path, bytecode: Path
) -> None:
    # Given the function's built code and its built layer, from the build this machine can load
    deployment = _deployment(builds.host, function.logical_id)
    assert deployment.layer_dirs, "every function has the security layer"

    # When a bare interpreter, in an empty directory and environment, imports the handler
    report = _import_in_isolation(
        deployment.import_paths, tmp_path, bytecode, handler=function.handler
    )

    # Then the handler resolves to a callable, and every module loaded came from the function,
    # the layer or the standard library: nothing from a development environment
    assert report["callable"] is True
    assert report["outside"] == {}
    assert not [p for p in report["sys_path"] if "site-packages" in p]


def test_every_layer_module_imports_from_the_layer_alone(
    builds: Builds, tmp_path: Path, bytecode: Path
) -> None:
    # Given the built layer, and every module of the railguard package in it
    (layer,) = _layer_dirs(builds.host)
    package = layer / "python" / "railguard"
    modules = tuple(
        ".".join(path.relative_to(layer / "python").with_suffix("").parts).removesuffix(".__init__")
        for path in sorted(package.rglob("*.py"))
    )
    assert "railguard.core.settings" in modules

    # When a bare interpreter imports all of them with only the layer on sys.path
    report = _import_in_isolation([str(layer / "python")], tmp_path, bytecode, modules=modules)

    # Then each imports, from the layer or the standard library only
    assert report["outside"] == {}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_layer_holds_exactly_the_locked_distributions(builds: Builds) -> None:
    # Given the hash-locked pins the layer is built from
    locked = {
        _canonical(match[1]): match[2]
        for match in re.finditer(r"^([A-Za-z0-9._-]+)==(\S+)", LOCK.read_text(), re.MULTILINE)
    }
    assert "cryptography" in locked
    for build in {builds.deployed, builds.host}:
        # When listing the distributions each built layer holds
        (layer,) = _layer_dirs(build)
        installed = {
            _canonical(dist.metadata["Name"]): dist.version
            for dist in distributions(path=[str(layer / "python")])
        }
        # Then they are the locked ones, at the locked versions, and nothing else
        assert installed == locked, build.directory


def test_native_extensions_match_each_builds_architecture(builds: Builds) -> None:
    for build in {builds.deployed, builds.host}:
        # Given a build's layer
        (layer,) = _layer_dirs(build)
        # When reading the ELF header of every shared library in it
        libraries = native_libraries(layer)
        # Then each is for the build's architecture (arm64 for the deployed build), and the
        # layer's native packages are all among them
        assert set(libraries.values()) == {build.architecture}, build.directory
        top_levels = {path.relative_to(layer / "python").parts[0] for path in libraries}
        top_levels = {name.split(".")[0] for name in top_levels}
        assert set(NATIVE_PACKAGES) <= top_levels
    assert builds.deployed.architecture == "arm64"


def test_deployed_functions_fit_lambdas_size_quota(builds: Builds) -> None:
    # Given the deployed (arm64) build
    build_dir = builds.deployed.directory
    # When measuring it as Lambda counts it
    report = measure(build_dir)
    # Then every function with its layers is under 250 MB unzipped
    assert report.deployments
    assert report.over_unzipped_quota() == ()
    assert all(d.unzipped < UNZIPPED_QUOTA for d in report.deployments)
