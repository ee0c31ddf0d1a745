"""The dashboard site as the template declares it: which folder, which paths go to the API, and
the response headers of its pages.

The template's CloudFront distribution is the one description: `make dev` serves the same folder
with the same behaviours and headers (infra/local/site.py), and `make publish-dashboard` uploads
that folder with the content types below.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote

from infra.template import Resource, Template, TemplateError

DISTRIBUTION = "AWS::CloudFront::Distribution"
HEADERS_POLICY = "AWS::CloudFront::ResponseHeadersPolicy"

# Every file the site ships has one of these types; another suffix is refused when publishing.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
# The files are not fingerprinted: a browser revalidates each time, so a release shows at once.
CACHE_CONTROL = "no-cache"


@dataclass(frozen=True)
class DashboardSite:
    content_dir: Path
    default_root_object: str
    api_path_patterns: tuple[str, ...]  # CloudFront path patterns (`*` matches any characters)
    headers: tuple[tuple[str, str], ...]  # the response headers policy of the site's files

    def goes_to_api(self, path: str) -> bool:
        return any(fnmatchcase(path, pattern) for pattern in self.api_path_patterns)

    def file_for(self, path: str) -> Path | None:
        """The file a request path names (the root object for `/`), or None: nothing there, or a
        path that would leave the folder."""
        decoded = unquote(path)
        if "\x00" in decoded or "\\" in decoded:
            return None
        relative = PurePosixPath(self.default_root_object if path == "/" else decoded.lstrip("/"))
        if not relative.parts or any(part in {"..", "."} for part in relative.parts):
            return None
        root = self.content_dir.resolve()
        candidate = (root / relative).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return None
        return candidate


def content_type(path: Path) -> str | None:
    return CONTENT_TYPES.get(path.suffix.lower())


def dashboard_site(template: Template) -> DashboardSite:
    """The site of the template's one distribution; `TemplateError` if it is not described."""
    distributions = template.resources_of_type(DISTRIBUTION)
    if len(distributions) != 1:
        raise TemplateError(template.path, f"expected one {DISTRIBUTION}")
    config = distributions[0].properties.get("DistributionConfig") or {}
    default = config.get("DefaultCacheBehavior") or {}
    files_origin = default.get("TargetOriginId")
    bucket = _origin_bucket(template, config, files_origin)
    content_dir = bucket.metadata.get("ContentDir")
    if not isinstance(content_dir, str):
        raise TemplateError(template.path, f"{bucket.logical_id} has no Metadata.ContentDir")
    api_patterns = tuple(
        str(behaviour["PathPattern"])
        for behaviour in config.get("CacheBehaviors") or []
        if behaviour.get("TargetOriginId") != files_origin
    )
    return DashboardSite(
        content_dir=template.base_dir / content_dir,
        default_root_object=str(config.get("DefaultRootObject") or "index.html"),
        api_path_patterns=api_patterns,
        headers=_policy_headers(template, default.get("ResponseHeadersPolicyId")),
    )


def _origin_bucket(template: Template, config: dict[str, Any], origin_id: Any) -> Resource:
    for origin in config.get("Origins") or []:
        if origin.get("Id") != origin_id:
            continue
        domain = origin.get("DomainName")
        # `!GetAtt Bucket.RegionalDomainName`, as the parser writes it
        target = domain.get("Fn::GetAtt") if isinstance(domain, dict) else None
        if isinstance(target, list) and target and target[0] in template.resources:
            return template.resources[target[0]]
    raise TemplateError(template.path, "the default behaviour's origin is not a bucket")


def _policy_headers(template: Template, policy_ref: Any) -> tuple[tuple[str, str], ...]:
    logical_id = policy_ref.get("Ref") if isinstance(policy_ref, dict) else None
    policy = template.resources.get(str(logical_id))
    if policy is None or policy.type != HEADERS_POLICY:
        raise TemplateError(template.path, "the default behaviour has no response headers policy")
    config = policy.properties["ResponseHeadersPolicyConfig"]
    security = dict(config.get("SecurityHeadersConfig") or {})
    headers: list[tuple[str, str]] = []
    if (csp := security.pop("ContentSecurityPolicy", None)) is not None:
        headers.append(("Content-Security-Policy", " ".join(csp["ContentSecurityPolicy"].split())))
    if security.pop("ContentTypeOptions", None) is not None:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if (frame := security.pop("FrameOptions", None)) is not None:
        headers.append(("X-Frame-Options", frame["FrameOption"]))
    if (referrer := security.pop("ReferrerPolicy", None)) is not None:
        headers.append(("Referrer-Policy", referrer["ReferrerPolicy"]))
    if (hsts := security.pop("StrictTransportSecurity", None)) is not None:
        value = f"max-age={hsts['AccessControlMaxAgeSec']}"
        value += "; includeSubDomains" if hsts.get("IncludeSubdomains") else ""
        value += "; preload" if hsts.get("Preload") else ""
        headers.append(("Strict-Transport-Security", value))
    if security:  # a header CloudFront would add that this reading would silently drop
        raise TemplateError(template.path, f"unread security headers: {sorted(security)}")
    for item in (config.get("CustomHeadersConfig") or {}).get("Items") or []:
        headers.append((str(item["Header"]), str(item["Value"])))
    return tuple(headers)
