"""`python -m infra.local.sam`: the AWS emulator for `sam local start-api`, and what to run next.

`make dev` needs no container runtime and stays the way to run the stack locally. This is for
running the very same template in Lambda's own runtime containers (Docker or Finch): it starts the
emulator alone (no gateway of ours), provisions the template's table, key and bus as `make dev`
does, writes the `--env-vars` file (`infra.local.sam_env`) and prints the `sam build` and
`sam local start-api` commands. With a container runtime it keeps the emulator running until
Ctrl-C or SIGTERM; without one it says so after printing, stops the emulator and exits 0.

Settings from the environment: AWS_HOST (0.0.0.0: SAM's containers must reach it, so it listens
beyond loopback), AWS_PORT (4566), SAM_AWS_HOST (host.docker.internal: the emulator's host as the
containers see it, e.g. 172.17.0.1 for Docker's default bridge), SAM_ENV_FILE
(.aws-sam/local/env.json), TEMPLATE (the repository's template.yaml). Stage and the other
parameters come from samconfig.toml's `local` environment. Exit status: 0 after printing (and a
requested stop), 2 when the emulator cannot start or provision (the reason on stderr).
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from infra import samconfig as samconfig_file
from infra.build import SAM_CLI, SAMCONFIG, BuildError, host_build
from infra.local.aws import AwsEndpoint
from infra.local.emulator import MotoEmulator
from infra.local.errors import StartupError
from infra.local.ports import is_loopback, port_setting
from infra.local.provisioning import provision
from infra.local.sam_env import (
    DEFAULT_CONTAINER_HOST,
    DEFAULT_ENV_FILE,
    ROOT,
    endpoint_url,
    sam_environment,
    write_sam_environment,
)
from infra.local.stack import DEFAULT_TEMPLATE
from infra.local.stopping import StopSignals
from infra.template import TemplateError, load_template

SAM_CONFIG_ENV = "local"
_CANNOT_START = 2
_RUNTIME_CHECK_SECONDS = 15
CONTAINER_RUNTIMES = ("docker", "finch")


@dataclass(frozen=True)
class Settings:
    template: Path
    bind_host: str  # where the emulator listens
    port: int
    container_host: str  # the emulator's host as SAM's containers reach it
    env_file: Path


def settings_from(environment: Mapping[str, str]) -> Settings:
    return Settings(
        template=Path(environment.get("TEMPLATE", str(DEFAULT_TEMPLATE))),
        bind_host=environment.get("AWS_HOST", "0.0.0.0"),  # noqa: S104 - containers must reach it
        port=port_setting(environment, "AWS_PORT", 4566),
        container_host=environment.get("SAM_AWS_HOST") or DEFAULT_CONTAINER_HOST,
        env_file=Path(environment.get("SAM_ENV_FILE", str(DEFAULT_ENV_FILE))),
    )


def local_parameter_overrides(samconfig: Path = SAMCONFIG) -> dict[str, str]:
    """`parameter_overrides` of samconfig's `local` start-api environment, as a mapping."""
    try:
        config = samconfig_file.read(samconfig)
        section = config.get(SAM_CONFIG_ENV, {}).get("local_start_api", {}).get("parameters", {})
        return samconfig_file.parameter_overrides(section, samconfig)
    except samconfig_file.SamConfigError as exc:
        raise StartupError(str(exc)) from exc


def _local_url(bind_host: str, port: int) -> str:
    """How this process reaches an emulator bound to `bind_host` (a wildcard means loopback)."""
    try:
        address = ipaddress.ip_address(bind_host)
    except ValueError:
        return endpoint_url(bind_host, port)
    if address.is_unspecified:
        return endpoint_url("::1" if address.version == 6 else "127.0.0.1", port)
    return endpoint_url(bind_host, port)


@dataclass(frozen=True)
class ContainerRuntime:
    name: str | None  # "docker" or "finch"; None when there is none that answers
    reason: str  # why none is usable, when name is None


def find_container_runtime(names: Sequence[str] = CONTAINER_RUNTIMES) -> ContainerRuntime:
    """The first of `names` on PATH whose `<name> info` succeeds."""
    problems = []
    for name in names:
        executable = shutil.which(name)
        if executable is None:
            continue
        try:
            completed = subprocess.run(  # noqa: S603 - a fixed command, no shell
                [executable, "info"],
                capture_output=True,
                text=True,
                timeout=_RUNTIME_CHECK_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            problems.append(f"`{name} info` did not answer within {_RUNTIME_CHECK_SECONDS} s")
            continue
        except OSError as exc:
            problems.append(f"`{name} info` could not run: {exc.strerror}")
            continue
        if completed.returncode == 0:
            return ContainerRuntime(name, "")
        last_line = next(reversed(completed.stderr.strip().splitlines()), "no output")
        problems.append(f"`{name} info` failed ({completed.returncode}): {last_line}")
    if not problems:
        problems.append(f"none of {', '.join(names)} is on PATH")
    return ContainerRuntime(None, "; ".join(problems))


def _shown(path: Path) -> str:
    """`path` relative to the repository when inside it (the commands run from there)."""
    absolute = path.absolute()  # not resolved: .venv/bin/python is a link out of the repository
    return str(absolute.relative_to(ROOT)) if absolute.is_relative_to(ROOT) else str(absolute)


def _command_lines(words: Sequence[str], prefix: str = "") -> str:
    """A shell command, one option per line (its value on the same line)."""
    lines: list[list[str]] = [[]]
    for word in words:
        if word.startswith("--"):
            lines.append([])
        lines[-1].append(shlex.quote(word))
    return f"  {prefix}" + " \\\n      ".join(" ".join(line) for line in lines if line)


def next_commands(
    settings: Settings, endpoint: AwsEndpoint, overrides: Mapping[str, str]
) -> list[str]:
    """The build and start-api commands, to run from the repository's directory."""
    try:
        build = host_build()
    except BuildError as exc:
        raise StartupError(str(exc)) from exc
    # Lambda's images for this machine: an arm64 build on x86_64 needs an emulated CPU.
    parameters = {**overrides, "Architecture": build.architecture}
    start_api = [
        _shown(SAM_CLI),
        "local",
        "start-api",
        # Absolute: SAM looks for a relative config file beside the template given.
        "--config-file", str(SAMCONFIG.resolve()),
        "--config-env", SAM_CONFIG_ENV,
        "--template-file", _shown(build.template),
        "--env-vars", _shown(settings.env_file),
        "--parameter-overrides", " ".join(f"{k}={v}" for k, v in sorted(parameters.items())),
        "--region", endpoint.region,
    ]  # fmt: skip
    if settings.container_host == DEFAULT_CONTAINER_HOST:
        # Docker Desktop and Finch know the name; Docker Engine on Linux learns it so.
        start_api += ["--add-host", f"{DEFAULT_CONTAINER_HOST}:host-gateway"]
    # The emulator's dummy identity, whatever the shell holds: SAM hands its session's
    # credentials to the containers, and a real identity has no business at an emulator.
    identity = (
        f"AWS_ACCESS_KEY_ID={endpoint.access_key_id}"
        f" AWS_SECRET_ACCESS_KEY={endpoint.secret_access_key} AWS_SESSION_TOKEN="
        " SAM_CLI_TELEMETRY=0 "
    )
    build_command = [_shown(Path(sys.executable)), "-m", "infra.build", "--host-only"]
    return [
        f"Next, from {ROOT}:",
        f"  # sam build for {build.architecture} into {_shown(build.directory)}"
        " (as `make build` does for this machine)",
        f"  {shlex.join(build_command)}",
        "  # the API on http://127.0.0.1:3000, each function in a Lambda runtime container",
        _command_lines(start_api, prefix=identity),
    ]


def run(settings: Settings, emulator: MotoEmulator) -> list[str]:
    """Start `emulator`, provision, write the env file; return the lines to print next."""
    overrides = local_parameter_overrides()
    template = load_template(settings.template, overrides)
    lines = []
    started = emulator.start()
    port = urlsplit(started.url).port or settings.port
    endpoint = replace(started, url=_local_url(settings.bind_host, port))
    lines.append(f"AWS emulator (moto) listening on {started.url}")
    if not is_loopback(settings.bind_host):
        lines.append(
            f"warning: the emulator listens on {settings.bind_host}, beyond loopback, so that"
            " SAM's containers reach it: whatever reaches this machine on port"
            f" {port} can read and change its tables and use its key (AWS_HOST=<address>"
            " narrows it, e.g. Docker's bridge 172.17.0.1)"
        )
    provisioning = provision(template, endpoint)
    lines.extend(resource.describe() for resource in provisioning.resources)
    container_url = endpoint_url(settings.container_host, port)
    environment = sam_environment(template, provisioning.intrinsics, container_url)
    write_sam_environment(environment, settings.env_file)
    lines.append(
        f"wrote {_shown(settings.env_file)}: the template's environment of {len(environment)}"
        f" functions, resolved here, with AWS_ENDPOINT_URL={container_url}"
    )
    lines.append("")
    lines.extend(next_commands(settings, endpoint, overrides))
    return lines


def main(environment: Mapping[str, str] = os.environ) -> int:
    emulator: MotoEmulator | None = None
    try:
        settings = settings_from(environment)
        emulator = MotoEmulator(settings.bind_host, settings.port)
        lines = run(settings, emulator)
    except (StartupError, TemplateError) as exc:
        if emulator is not None:
            emulator.stop()
        print(f"error: {exc}", file=sys.stderr)
        return _CANNOT_START
    try:
        print("\n".join(lines), flush=True)
        runtime = find_container_runtime()
        if runtime.name is None:
            print(
                "\nsam local needs a container runtime (Docker or Finch) to run the functions,"
                " and none answers here:\n"
                f"  {runtime.reason}\n"
                "Start one and run this again, then the commands above; `make dev` serves the"
                " same template without one. The emulator is stopped.",
                flush=True,
            )
            return 0
        print(f"\n{runtime.name} answers. AWS emulator running for sam local; Ctrl-C stops it.")
        StopSignals().wait()
    finally:
        emulator.stop()
    print("AWS emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
