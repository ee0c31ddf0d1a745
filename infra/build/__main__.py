"""`python -m infra.build [--host-only] [--if-stale]`: the `sam build`s of template.yaml that
`make build` runs.

Builds for arm64 into `.aws-sam/build` (what deploys), then for this machine into
`.aws-sam/host/build` (what the packaging test imports) when this machine is not arm64. With
`--host-only`, only the latter; with `--if-stale`, only the builds older than their inputs
(`make test` starts this in the background, so the builds overlap the other tiers and the
packaging tier finds them current). Each build then has its shared libraries' architecture
checked.
"""

from __future__ import annotations

import argparse
import sys

from infra.build import BuildError, builds, deployed_build, host_build, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.build", description=__doc__)
    parser.add_argument(
        "--host-only", action="store_true", help="only the build this machine can import"
    )
    parser.add_argument(
        "--if-stale", action="store_true", help="skip a build newer than all its inputs"
    )
    arguments = parser.parse_args(argv)
    try:
        for build in (host_build(),) if arguments.host_only else builds():
            # The deployed build with SAM's output; the host one quietly, since SAM's advice
            # (deploy it) is wrong for it: its output is shown if it fails.
            quiet = build != deployed_build()
            shown = " (output shown if it fails)" if quiet else ""
            print(f"sam build: {build.architecture} into {build.directory}{shown}", flush=True)
            run(build, quiet=quiet, if_stale=arguments.if_stale)
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
