"""The dashboard site as the template declares it, and the local stack serving it the same way
(one origin: the API's behaviours go to the API, every other path is a file of dashboard/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.dashboard import CACHE_CONTROL, CONTENT_TYPES, DashboardSite, dashboard_site
from infra.http_api.events import HttpRequest
from infra.local.site import SiteGateway
from infra.template import load_template, parse_yaml
from tests.unit.infra.test_server import RecordingGateway

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def site() -> DashboardSite:
    return dashboard_site(load_template(REPO / "template.yaml"))


def test_the_site_is_the_dashboard_folder_with_the_api_behind_api_and_well_known(
    site: DashboardSite,
) -> None:
    # Given the template's distribution
    # Then its files come from dashboard/ and two behaviours go to the API
    assert site.content_dir == REPO / "dashboard"
    assert site.default_root_object == "index.html"
    assert site.api_path_patterns == ("/api/*", "/.well-known/*")


def test_the_pages_csp_allows_only_this_origin_and_forbids_inline_code_and_framing(
    site: DashboardSite,
) -> None:
    # Given the headers the template gives the site's files
    headers = dict(site.headers)
    directives = {
        part.split()[0]: part.split()[1:] for part in headers["Content-Security-Policy"].split("; ")
    }
    # Then only the origin's own files run, nothing inline, no eval, no framing
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["require-trusted-types-for"] == ["'script'"]
    assert (headers["X-Frame-Options"], headers["X-Content-Type-Options"]) == ("DENY", "nosniff")
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"


def test_every_file_of_the_dashboard_has_a_known_content_type(site: DashboardSite) -> None:
    # Given every file in the folder that deploys
    files = [path for path in site.content_dir.rglob("*") if path.is_file()]
    # Then each is one publish and the local stack know how to serve
    assert files
    assert sorted({p.suffix for p in files} - set(CONTENT_TYPES)) == []


@pytest.mark.parametrize(
    ("path", "goes_to_api"),
    [
        ("/api/v1/health", True),
        ("/.well-known/jwks.json", True),
        ("/", False),
        ("/js/app.js", False),
        ("/apis", False),
    ],
)
def test_paths_go_where_the_distributions_behaviours_send_them(
    site: DashboardSite, path: str, goes_to_api: bool
) -> None:
    assert site.goes_to_api(path) is goes_to_api


def _serve(site: DashboardSite, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    api = RecordingGateway()
    response = SiteGateway(site, api).handle(HttpRequest(method=method, path=path))
    assert api.requests == []
    return response.status, dict(response.headers), response.body


def test_root_serves_the_index_with_the_templates_headers(site: DashboardSite) -> None:
    # When the root is requested
    status, headers, body = _serve(site, "GET", "/")
    # Then the index comes back with the policy's headers
    assert status == 200
    assert body == (REPO / "dashboard" / "index.html").read_bytes()
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == CACHE_CONTROL
    assert {name: headers[name] for name, _ in site.headers} == dict(site.headers)


def test_a_module_is_served_as_javascript(site: DashboardSite) -> None:
    status, headers, _ = _serve(site, "GET", "/js/app.js")
    assert (status, headers["Content-Type"]) == (200, "text/javascript; charset=utf-8")


@pytest.mark.parametrize(
    "path",
    [
        "/../template.yaml",
        "/js/../../template.yaml",
        "/%2e%2e/template.yaml",
        "/js/%2e%2e/%2e%2e/pyproject.toml",
        "/js",
        "/missing.html",
        "/js/app.js%00.png",
        "/js\\..\\..\\template.yaml",
    ],
)
def test_paths_outside_the_folder_or_missing_are_404(site: DashboardSite, path: str) -> None:
    status, _, body = _serve(site, "GET", path)
    assert (status, body) == (404, b"Not Found")


def test_a_write_to_a_file_path_is_403_as_cloudfront_answers(site: DashboardSite) -> None:
    status, _, _ = _serve(site, "POST", "/index.html")
    assert status == 403


def test_api_paths_reach_the_api_gateway(site: DashboardSite) -> None:
    # Given the site in front of an API
    api = RecordingGateway()
    # When an API path is requested
    response = SiteGateway(site, api).handle(HttpRequest(method="POST", path="/api/v1/auth/login"))
    # Then the API answered it
    assert (response.status, [r.path for r in api.requests]) == (200, ["/api/v1/auth/login"])


CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"


def test_the_files_are_private_to_the_distribution_and_only_served_over_https() -> None:
    # Given the template's bucket, its policy and the distribution
    template = load_template(REPO / "template.yaml")
    bucket = template.resources["DashboardBucket"].properties
    statements = template.resources["DashboardBucketPolicy"].properties["PolicyDocument"][
        "Statement"
    ]
    config = template.resources["Dashboard"].properties["DistributionConfig"]
    # Then nothing is public, only this distribution reads (signed), nobody over plain HTTP
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert "${Dashboard}" in allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": False}}
    origin_access = template.resources["DashboardOriginAccess"].properties
    assert origin_access["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    # And the API's paths are neither cached nor redirected (a redirected POST loses its body)
    assert {
        (b["PathPattern"], b["ViewerProtocolPolicy"], b["CachePolicyId"])
        for b in config["CacheBehaviors"]
    } == {
        ("/api/*", "https-only", CACHING_DISABLED),
        ("/.well-known/*", "https-only", CACHING_DISABLED),
    }


def test_a_named_dashboard_takes_tls_1_2_at_least_and_prod_needs_one() -> None:
    # Given the template as CloudFormation reads it
    document = parse_yaml((REPO / "template.yaml").read_text())
    config = document["Resources"]["Dashboard"]["Properties"]["DistributionConfig"]
    named, unnamed = config["ViewerCertificate"]["Fn::If"][1:]
    # Then with a name and certificate the minimum is TLS 1.2 (SNI); without, CloudFront's
    assert named["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert named["SslSupportMethod"] == "sni-only"
    assert unnamed == {"CloudFrontDefaultCertificate": True}
    # And a prod stack must have one
    rule = document["Rules"]["ProdServesTheDashboardOverTls12"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "DashboardCertificateArn"}, ""]}]
    }
