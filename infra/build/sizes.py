"""`python -m infra.build.sizes [BUILD_DIR]`: built layers' and functions' sizes, against Lambda.

Reads the built template in BUILD_DIR (default `.aws-sam/build`, the arm64 build that deploys),
measures each layer and function directory unzipped (the sum of its files' sizes, as Lambda
counts it) and zipped (deflated, as `sam package` zips it), and compares them with Lambda's
quotas: 250 MB unzipped for a function with all its layers, 50 MB zipped for a direct upload.
Exits 1 when a function with its layers is over the unzipped quota, which no upload path lifts;
the zipped one only binds direct uploads (`sam deploy` goes through S3: `resolve_s3`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.build import deployed_build
from infra.template import SERVERLESS_FUNCTION, SERVERLESS_LAYER, load_template, merge_globals

MB = 1024 * 1024  # Lambda's "MB" in its quotas: 250 MB is 262,144,000 bytes
UNZIPPED_QUOTA = 250 * MB  # a function's code and all its layers, unzipped
ZIPPED_DIRECT_UPLOAD_QUOTA = 50 * MB  # one zip uploaded directly (not through S3)


@dataclass(frozen=True)
class Artifact:
    """One built layer or function directory and its sizes in bytes."""

    logical_id: str
    directory: Path
    unzipped: int
    zipped: int


@dataclass(frozen=True)
class Deployment:
    """A function as Lambda sees it: its own code and its layers."""

    function: Artifact
    layers: tuple[Artifact, ...]

    @property
    def unzipped(self) -> int:
        return self.function.unzipped + sum(layer.unzipped for layer in self.layers)


@dataclass(frozen=True)
class Report:
    build_dir: Path
    layers: tuple[Artifact, ...]
    deployments: tuple[Deployment, ...]

    def over_unzipped_quota(self) -> tuple[Deployment, ...]:
        return tuple(d for d in self.deployments if d.unzipped > UNZIPPED_QUOTA)

    def over_direct_upload_quota(self) -> tuple[Artifact, ...]:
        artifacts = self.layers + tuple(d.function for d in self.deployments)
        return tuple(a for a in artifacts if a.zipped > ZIPPED_DIRECT_UPLOAD_QUOTA)

    def lines(self) -> list[str]:
        lines = [f"sizes in {self.build_dir} (MB as in Lambda's quotas: 1,048,576 bytes)"]
        for layer in self.layers:
            lines.append(
                f"  layer {layer.logical_id}: {_size(layer.unzipped)} unzipped"
                f" ({_share(layer.unzipped, UNZIPPED_QUOTA)} of the 250 MB for a function with its"
                f" layers), {_size(layer.zipped)} zipped"
                f" ({_share(layer.zipped, ZIPPED_DIRECT_UPLOAD_QUOTA)} of 50 MB direct upload)"
            )
        if self.deployments:
            largest = max(self.deployments, key=lambda d: d.function.unzipped)
            total = max(self.deployments, key=lambda d: d.unzipped)
            lines.append(
                f"  functions: {len(self.deployments)}; the largest, {largest.function.logical_id}:"
                f" {_size(largest.function.unzipped)} unzipped, {_size(largest.function.zipped)}"
                " zipped"
            )
            lines.append(
                f"  largest function with its layers: {total.function.logical_id},"
                f" {_size(total.unzipped)} unzipped ({_share(total.unzipped, UNZIPPED_QUOTA)}"
                " of 250 MB)"
            )
        lines.extend(
            f"  OVER QUOTA: {d.function.logical_id} with its layers is {_size(d.unzipped)}"
            " unzipped, over 250 MB"
            for d in self.over_unzipped_quota()
        )
        lines.extend(
            f"  note: {a.logical_id} is {_size(a.zipped)} zipped, over the 50 MB of a direct"
            " upload; deploy it through S3 (samconfig's resolve_s3)"
            for a in self.over_direct_upload_quota()
        )
        return lines


def measure(build_dir: Path) -> Report:
    """Sizes of every layer and function in the built template in `build_dir`."""
    template = load_template(build_dir / "template.yaml")
    layers = {
        resource.logical_id: _artifact(
            resource.logical_id, _directory(build_dir, resource.properties.get("ContentUri"))
        )
        for resource in template.resources_of_type(SERVERLESS_LAYER)
    }
    deployments = []
    for resource in template.resources_of_type(SERVERLESS_FUNCTION):
        properties = merge_globals(template.function_globals, resource.properties)
        function = _artifact(resource.logical_id, _directory(build_dir, properties.get("CodeUri")))
        deployments.append(
            Deployment(
                function, tuple(layers[_ref(layer)] for layer in properties.get("Layers", []))
            )
        )
    return Report(build_dir, tuple(layers.values()), tuple(deployments))


def _directory(build_dir: Path, uri: Any) -> Path:
    if not isinstance(uri, str) or not (build_dir / uri).is_dir():
        raise ValueError(f"{build_dir}: {uri!r} is not a built directory")
    return build_dir / uri


def _ref(layer: Any) -> str:
    if not (isinstance(layer, dict) and isinstance(layer.get("Ref"), str)):
        raise TypeError(f"only layers of this template (a Ref) are measured, not {layer!r}")
    return str(layer["Ref"])


def _artifact(logical_id: str, directory: Path) -> Artifact:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    unzipped = sum(p.stat().st_size for p in files)
    with tempfile.TemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, path.relative_to(directory).as_posix())
        zipped = spool.seek(0, os.SEEK_END)
    return Artifact(logical_id, directory, unzipped, zipped)


def _size(size: int) -> str:
    if size < MB:
        return f"{size / 1024:.1f} KB ({size:,} bytes)"
    return f"{size / MB:.1f} MB ({size:,} bytes)"


def _share(size: int, quota: int) -> str:
    return f"{100 * size / quota:.0f}%"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.build.sizes", description=__doc__)
    parser.add_argument("build_dir", nargs="?", type=Path, default=deployed_build().directory)
    arguments = parser.parse_args(argv)
    report = measure(arguments.build_dir)
    print("\n".join(report.lines()))
    return 1 if report.over_unzipped_quota() else 0


if __name__ == "__main__":
    sys.exit(main())
