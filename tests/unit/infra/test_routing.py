"""Route selection as API Gateway HTTP APIs do it: the most specific route wins."""

from __future__ import annotations

import pytest

from infra.http_api.routing import RouteTable
from infra.template import Route

ROUTES = RouteTable(
    [
        Route("GET", "/pets/dog/1", "Literal", None),
        Route("GET", "/pets/dog/{id}", "Parameter", None),
        Route("GET", "/pets/{proxy+}", "Greedy", None),
        Route("ANY", "/{proxy+}", "Fallback", None),
        Route("ANY", "/items/{id}", "AnyItem", None),
        Route("DELETE", "/items/{id}", "DeleteItem", None),
        Route("GET", "/items/{id}/tags/{tag}", "Tag", None),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "function_id", "parameters"),
    [
        ("GET", "/pets/dog/1", "Literal", {}),
        ("GET", "/pets/dog/2", "Parameter", {"id": "2"}),
        ("GET", "/pets/cat/2", "Greedy", {"proxy": "cat/2"}),
        ("POST", "/pets/dog/1", "Fallback", {"proxy": "pets/dog/1"}),
        ("DELETE", "/items/7", "DeleteItem", {"id": "7"}),
        ("get", "/items/7", "AnyItem", {"id": "7"}),
        ("GET", "/items/a%20b/tags/x", "Tag", {"id": "a b", "tag": "x"}),
    ],
)
def test_most_specific_route_wins(
    method: str, path: str, function_id: str, parameters: dict[str, str]
) -> None:
    # Given routes that overlap (literal, parameter, greedy, ANY)
    # When a request is routed
    selected = ROUTES.select(method, path)
    # Then the most specific route serves it, with its path parameters URL-decoded
    assert selected is not None
    route, matched = selected
    assert route.function_id == function_id
    assert matched.route_key == route.key
    assert dict(matched.path_parameters) == parameters


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/health"),
        ("GET", "/api/v1/health/"),
        ("GET", "/api/v1"),
        ("GET", "/api/v1/health/extra"),
    ],
)
def test_unmatched_method_or_path_selects_nothing(method: str, path: str) -> None:
    # Given one GET route and no greedy fallback
    table = RouteTable([Route("GET", "/api/v1/health", "Health", None)])
    # When a request with another method or path arrives
    # Then no route is selected (the gateway answers 404)
    assert table.select(method, path) is None


def test_parameter_does_not_match_an_empty_segment() -> None:
    # Given a route with a path parameter
    table = RouteTable([Route("GET", "/items/{id}", "Item", None)])
    # When the segment is empty
    # Then the route does not match
    assert table.select("GET", "/items/") is None
