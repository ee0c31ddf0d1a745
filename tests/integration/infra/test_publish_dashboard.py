"""`make publish-dashboard` against the emulator's S3: the folder's files, typed as the local
stack serves them, and nothing stale left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from infra.dashboard import CACHE_CONTROL, DashboardSite, dashboard_site
from infra.publish_dashboard import UnpublishableFile, publish
from infra.template import load_template
from tests.support.emulator import AwsEndpoint

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


@pytest.fixture
def bucket(aws: AwsEndpoint) -> str:
    requests.post(f"{aws.url}/moto-api/reset", timeout=5).raise_for_status()
    aws.client("s3").create_bucket(Bucket="dashboard-files")
    return "dashboard-files"


def test_publish_uploads_every_file_typed_and_removes_stale_ones(
    aws: AwsEndpoint, bucket: str
) -> None:
    # Given a bucket holding a file the folder no longer has
    s3 = aws.client("s3")
    s3.put_object(Bucket=bucket, Key="old.js", Body=b"gone")
    site = dashboard_site(load_template(TEMPLATE))
    # When the dashboard is published
    published = publish(site, s3, bucket)
    # Then the bucket holds exactly the folder, each file with its type and caching
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == set(published.uploaded)
    assert {"index.html", "js/app.js"} <= keys
    assert published.removed == ("old.js",)
    module = s3.get_object(Bucket=bucket, Key="js/app.js")
    assert (module["ContentType"], module["CacheControl"]) == (
        "text/javascript; charset=utf-8",
        CACHE_CONTROL,
    )


def test_publish_refuses_a_file_of_unknown_type_before_uploading(
    aws: AwsEndpoint, bucket: str, tmp_path: Path
) -> None:
    # Given a folder with a file the site has no type for
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "notes.md").write_text("draft")
    site = DashboardSite(tmp_path, "index.html", ("/api/*",), ())
    s3 = aws.client("s3")
    # When it is published, then nothing is uploaded
    with pytest.raises(UnpublishableFile, match=r"notes\.md"):
        publish(site, s3, bucket)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_publish_refuses_a_symbolic_link_that_could_reach_outside_the_folder(
    aws: AwsEndpoint, bucket: str, tmp_path: Path
) -> None:
    # Given a folder with a link to a file outside it
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html>")
    (tmp_path / "secret.txt").write_text("not for the bucket")
    (folder / "notes.txt").symlink_to(tmp_path / "secret.txt")
    site = DashboardSite(folder, "index.html", ("/api/*",), ())
    s3 = aws.client("s3")
    # When it is published, then nothing is uploaded
    with pytest.raises(UnpublishableFile, match=r"notes\.txt"):
        publish(site, s3, bucket)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
