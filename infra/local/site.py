"""The local stack's CloudFront: the dashboard's files and the API on one origin.

Paths matching the distribution's API behaviours (`/api/*`, `/.well-known/*`) go to the API
gateway; any other path is a file of the dashboard's folder, with the headers the template's
response headers policy gives it. As CloudFront's file behaviour allows, only GET and HEAD.
"""

from __future__ import annotations

from infra.dashboard import CACHE_CONTROL, DashboardSite, content_type
from infra.http_api.events import HttpRequest
from infra.http_api.gateway import HttpResponse
from infra.local.server import RequestGateway

_TEXT = "text/plain; charset=utf-8"


class SiteGateway:
    def __init__(self, site: DashboardSite, api: RequestGateway) -> None:
        self._site = site
        self._api = api

    def handle(self, request: HttpRequest) -> HttpResponse:
        if self._site.goes_to_api(request.path):
            return self._api.handle(request)
        if request.method not in {"GET", "HEAD"}:
            return self._plain(403, "This path takes GET and HEAD only.")
        file = self._site.file_for(request.path)
        kind = content_type(file) if file is not None else None
        if file is None or kind is None:
            return self._plain(404, "Not Found")
        headers = (("Content-Type", kind), ("Cache-Control", CACHE_CONTROL), *self._site.headers)
        return HttpResponse(200, headers, file.read_bytes())

    def _plain(self, status: int, text: str) -> HttpResponse:
        return HttpResponse(status, (("Content-Type", _TEXT), *self._site.headers), text.encode())
