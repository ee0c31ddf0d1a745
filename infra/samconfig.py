"""samconfig.toml, as the SAM CLI reads it: its environments and their parameter overrides."""

from __future__ import annotations

import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.build import SAMCONFIG


class SamConfigError(Exception):
    """samconfig.toml cannot be read, or says something the SAM CLI would refuse."""


@dataclass(frozen=True)
class Stage:
    """An environment that `sam deploy --config-env <name>` deploys."""

    name: str
    region: str
    parameters: Mapping[str, str]


def read(samconfig: Path = SAMCONFIG) -> dict[str, Any]:
    try:
        return tomllib.loads(samconfig.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SamConfigError(f"cannot read {samconfig}: {exc}") from exc


def parameter_overrides(section: Mapping[str, Any], samconfig: Path = SAMCONFIG) -> dict[str, str]:
    """A command's `parameter_overrides` (`"A=1 B=2"`, or a list of those), as a mapping."""
    overrides = section.get("parameter_overrides", [])
    items = shlex.split(overrides) if isinstance(overrides, str) else list(overrides)
    malformed = [item for item in items if "=" not in item]
    if malformed:
        raise SamConfigError(
            f"{samconfig}: parameter overrides must be Name=Value, got {malformed}"
        )
    return dict(item.split("=", 1) for item in items)


def deploy_stages(samconfig: Path = SAMCONFIG) -> tuple[Stage, ...]:
    """Every environment whose `deploy` command has parameter overrides: what gets deployed."""
    stages = []
    for name, environment in read(samconfig).items():
        if not isinstance(environment, dict):
            continue  # `version`
        deploy = environment.get("deploy", {}).get("parameters", {})
        if "parameter_overrides" in deploy:
            stages.append(Stage(name, deploy["region"], parameter_overrides(deploy, samconfig)))
    return tuple(stages)
