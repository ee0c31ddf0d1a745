"""`make publish-dashboard`: upload the dashboard's folder to a deployed stack's bucket.

The folder and the bucket are the template's (`DashboardBucket`, its `Metadata.ContentDir`), the
content types and caching infra/dashboard.py's, so CloudFront serves what `make dev` serves. Files
gone from the folder are removed from the bucket (it keeps their versions).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from infra.dashboard import CACHE_CONTROL, DashboardSite, content_type, dashboard_site
from infra.template import load_template

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
BUCKET_OUTPUT = "DashboardBucketName"


@dataclass(frozen=True)
class Published:
    uploaded: tuple[str, ...]
    removed: tuple[str, ...]


class UnpublishableFile(ValueError):
    """A file whose type the site does not serve: refused before anything is uploaded."""


def site_files(site: DashboardSite) -> dict[str, Path]:
    """Object key -> file, for every file of the folder."""
    root = site.content_dir
    paths = list(root.rglob("*"))
    # A link could publish a file from outside the folder; the local stack refuses them too.
    links = sorted(path.relative_to(root).as_posix() for path in paths if path.is_symlink())
    if links:
        raise UnpublishableFile(f"symbolic links are not published: {', '.join(links)}")
    files = {path.relative_to(root).as_posix(): path for path in paths if path.is_file()}
    unknown = sorted(key for key, path in files.items() if content_type(path) is None)
    if unknown:
        raise UnpublishableFile(f"no content type for {', '.join(unknown)}")
    return files


def publish(site: DashboardSite, s3: Any, bucket: str) -> Published:
    files = site_files(site)
    for key, path in sorted(files.items()):
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=content_type(path),
            CacheControl=CACHE_CONTROL,
        )
    existing = {
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    }
    stale = sorted(existing - set(files))
    for key in stale:
        s3.delete_object(Bucket=bucket, Key=key)
    return Published(tuple(sorted(files)), tuple(stale))


def stack_bucket(stack_name: str) -> str:
    stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0]["Outputs"]}
    return str(outputs[BUCKET_OUTPUT])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", required=True)
    args = parser.parse_args(argv)
    site = dashboard_site(load_template(TEMPLATE))
    bucket = stack_bucket(args.stack_name)
    published = publish(site, boto3.client("s3"), bucket)
    print(f"uploaded {len(published.uploaded)} files to s3://{bucket}; removed {published.removed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
