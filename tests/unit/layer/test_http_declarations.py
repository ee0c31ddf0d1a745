"""How a function declares its routes and its answers (`railguard.http`): a route by the key the
template spells, response models that take their fields from the layer's views, and the typed
errors' status and code in their class lines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from railguard.core.errors import Conflict, NotFound, RailguardError, Unauthenticated
from railguard.core.settings import FunctionSettings
from railguard.http import ApiFunction, Data, DataList, ViewModel
from railguard.http.models import Timestamp
from railguard.workspaces import Listing
from tests.support.lambda_context import FakeLambdaContext


@dataclass(frozen=True)
class ThingView:
    id: str
    name: str
    secret_hash: str
    created_at: int
    used_at: int | None


class Thing(ViewModel, view=ThingView, leave_out={"secret_hash"}):
    used_at: Timestamp | None = None


class NewThing(Thing):
    token: str


api = ApiFunction(FunctionSettings, tag="things")
_VIEW = ThingView("thg_1", "first", "h", 1_700_000_000, None)


@api.route("GET /api/v1/things/{thing_id}", "One thing")
def get_thing(thing_id: str) -> Data[Thing]:
    return Thing.data(ThingView(thing_id, "first", "h", 1_700_000_000, None))


@api.route("DELETE /api/v1/things/{thing_id}", "Delete a thing")
def delete_thing(thing_id: str) -> None:
    assert thing_id == "thg_1"  # the path parameter reached the handler


@api.route("POST /api/v1/things/{thing_id}/shares", "Share a thing", status=201, tag="shares")
def share_thing(thing_id: str) -> Data[Thing]:
    return Thing.data(_VIEW)


def _call(route_key: str, path: str, thing_id: str) -> dict[str, Any]:
    method, _ = route_key.split(" ", 1)
    event = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {},
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "192.0.2.1"},
            "requestId": "req-1",
            "routeKey": route_key,
            "stage": "$default",
        },
        "pathParameters": {"thing_id": thing_id},
        "isBase64Encoded": False,
    }
    context: Any = FakeLambdaContext()
    result: dict[str, Any] = api.app.resolve(event, context)
    return result


def test_a_route_is_declared_by_the_key_the_template_spells() -> None:
    # Given the route "GET /api/v1/things/{thing_id}", declared with api.route
    # When the gateway sends that route
    result = _call("GET /api/v1/things/{thing_id}", "/api/v1/things/thg_7", "thg_7")
    # Then the handler answers 200 with the view as the response model, its time as RFC 3339
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {
        "data": {
            "id": "thg_7",
            "name": "first",
            "created_at": "2023-11-14T22:13:20Z",
            "used_at": None,
        }
    }


def test_a_delete_answers_204_without_a_body_or_a_media_type() -> None:
    # Given a DELETE route whose handler returns nothing
    # When it is called
    result = _call("DELETE /api/v1/things/{thing_id}", "/api/v1/things/thg_1", "thg_1")
    # Then the answer is 204 No Content: no body, no Content-Type
    assert result["statusCode"] == 204
    assert not result.get("body")
    assert "Content-Type" not in result["headers"]


def test_the_document_has_the_declared_statuses_tags_and_summaries() -> None:
    # Given the three routes above
    # When the function's OpenAPI document is made
    paths = json.loads(api.app.get_openapi_json_schema())["paths"]
    # Then each operation has its summary, its tag (the function's unless named), its status
    one = paths["/api/v1/things/{thing_id}"]
    share = paths["/api/v1/things/{thing_id}/shares"]["post"]
    assert (one["get"]["summary"], one["get"]["tags"]) == ("One thing", ["things"])
    assert "200" in one["get"]["responses"]
    assert one["delete"]["tags"] == ["things"]
    assert "204" in one["delete"]["responses"]
    assert (share["summary"], share["tags"]) == ("Share a thing", ["shares"])
    assert "201" in share["responses"]


def test_a_view_model_takes_the_views_fields_in_order_less_those_left_out() -> None:
    # Given Thing, declared from ThingView leaving out its hash and giving used_at a default
    # When its fields are read
    fields = Thing.model_fields
    # Then they are the view's, in the view's order, without the hash; times are text
    assert list(fields) == ["id", "name", "created_at", "used_at"]
    assert fields["used_at"].is_required() is False
    assert fields["created_at"].is_required() is True
    assert Thing.model_json_schema()["properties"]["created_at"]["type"] == "string"


def test_a_page_of_views_is_a_data_list_with_its_cursor() -> None:
    # Given a listing of two views and a next cursor
    listing = Listing(
        [_VIEW, ThingView("thg_2", "second", "h", 1_700_000_060, 1_700_000_120)], "c2"
    )
    # When it is answered
    page = Thing.page(listing)
    # Then each view is a Thing and the cursor is in meta
    assert isinstance(page, DataList)
    # (a derived model's fields are pydantic's, not the type checker's: read through a dump)
    rows = [thing.model_dump() for thing in page.data]
    assert [row["id"] for row in rows] == ["thg_1", "thg_2"]
    assert rows[1]["used_at"] == "2023-11-14T22:15:20Z"
    assert page.meta.next_cursor == "c2"


def test_a_secret_shown_once_joins_the_views_fields() -> None:
    # Given a creation's view and the token it shows once
    # When the answer is made
    created = NewThing.shown_once(_VIEW, token="tok_once")
    # Then it has the view's fields and the token
    assert created.model_dump() == {
        "id": "thg_1",
        "name": "first",
        "created_at": "2023-11-14T22:13:20Z",
        "used_at": None,
        "token": "tok_once",
    }


def test_an_error_names_its_status_and_code_in_its_class_line() -> None:
    # Given errors declared with status and code in their class lines, and one that names
    # neither (it keeps its base's)
    class Gone(RailguardError, status=410, code="gone"):
        default_message = "It is gone."

    class StillNotFound(NotFound):
        pass

    # When their statuses and codes are read / Then they are the declared ones
    assert (Gone.status, Gone.code, Gone().message) == (410, "gone", "It is gone.")
    assert (StillNotFound.status, StillNotFound.code) == (404, "not_found")
    assert (Conflict.status, Conflict.code) == (409, "conflict")
    assert (Unauthenticated.status, Unauthenticated.code) == (401, "unauthenticated")
