"""API Gateway HTTP API route selection: which of the template's routes serves a request.

As API Gateway documents it: the most specific route wins. Segment by segment from the left, a
literal beats a `{param}`, which beats a greedy `{proxy+}`; then a route of the request's method
beats an `ANY` route.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from urllib.parse import unquote

from infra.http_api.events import MatchedRoute
from infra.template import Route


class _Segment(IntEnum):
    """Kinds of path segment, most specific first."""

    LITERAL = 0
    PARAMETER = 1
    GREEDY = 2


def _kind(segment: str) -> _Segment:
    if segment.startswith("{") and segment.endswith("+}"):
        return _Segment.GREEDY
    if segment.startswith("{") and segment.endswith("}"):
        return _Segment.PARAMETER
    return _Segment.LITERAL


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    segments: tuple[str, ...]
    kinds: tuple[_Segment, ...]

    @classmethod
    def of(cls, route: Route) -> _CompiledRoute:
        segments = tuple(route.path.split("/"))
        return cls(route, segments, tuple(_kind(s) for s in segments))

    @property
    def specificity(self) -> tuple[tuple[_Segment, ...], bool]:
        return self.kinds, self.route.method == "ANY"

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """The path parameters (URL-decoded) if the request's path segments match, else None."""
        parameters = {}
        for index, (pattern, kind) in enumerate(zip(self.segments, self.kinds, strict=True)):
            if kind is _Segment.GREEDY:
                rest = "/".join(segments[index:])
                if not rest:
                    return None
                parameters[pattern[1:-2]] = unquote(rest)
                return parameters
            if index >= len(segments):
                return None
            segment = segments[index]
            if kind is _Segment.PARAMETER:
                if not segment:
                    return None
                parameters[pattern[1:-1]] = unquote(segment)
            elif segment != pattern:
                return None
        return parameters if len(segments) == len(self.segments) else None


class RouteTable:
    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = tuple(_CompiledRoute.of(route) for route in routes)

    def select(self, method: str, path: str) -> tuple[Route, MatchedRoute] | None:
        """The route for `method` and `path` and its path parameters, or None (a 404)."""
        segments = path.split("/")
        candidates = []
        for compiled in self._routes:
            if compiled.route.method not in (method.upper(), "ANY"):
                continue
            parameters = compiled.match(segments)
            if parameters is not None:
                candidates.append((compiled, parameters))
        if not candidates:
            return None
        compiled, parameters = min(candidates, key=lambda candidate: candidate[0].specificity)
        return compiled.route, MatchedRoute(compiled.route.key, parameters)
