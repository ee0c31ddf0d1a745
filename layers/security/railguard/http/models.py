"""The contract's envelopes (section 1), as generic pydantic models for routes and OpenAPI."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from typing import Annotated, Any, Protocol, Self

from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from railguard.core.clock import rfc3339

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _rfc3339_text(value: object) -> object:
    # pydantic also reads a number, or a string of one, as epoch seconds: the contract says
    # RFC 3339.
    if isinstance(value, str) and _RFC3339.fullmatch(value):
        return value
    raise ValueError("must be an RFC 3339 time with its offset, e.g. 2026-01-02T03:04:05Z")


# A time a request gives (a query parameter): RFC 3339 text with its offset, nothing else.
Rfc3339Time = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]

# The query parameters of every list (section 1): `?limit=` 1..100 and `?cursor=`.
Limit = Annotated[int, Query(ge=1, le=100, description="Page size")]
Cursor = Annotated[str | None, Query(max_length=1024, description="From the previous page")]
# Checked again by railguard.access.idempotency (1-255 visible ASCII characters).
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Makes a retry of this creation safe for a day: the same key and request "
        "is not applied twice. Any string the client makes unique, such as a UUID.",
    ),
]


# Characters that reorder the text around them when it is shown (the bidirectional controls).
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _displayable(name: str) -> str:
    """A name is shown to other people (members, the audit trail), who must see what it says: no
    control characters, and none of the bidirectional controls that make "Alice" of "ecilA"
    or push an email out of view."""
    if any(c in _BIDI_CONTROLS or unicodedata.category(c) == "Cc" for c in name):
        raise ValueError("a name cannot hold control characters or bidirectional overrides")
    return name


# The name of a person, a workspace or a resource, as a request gives it.
DisplayName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="1 to 100 characters; no control characters or bidirectional overrides",
    ),
    AfterValidator(_displayable),
]


class Data[T](BaseModel):
    """`{"data": ...}`: every successful response with a body."""

    data: T


class ListMeta(BaseModel):
    next_cursor: str | None


class DataList[T](BaseModel):
    """`{"data": [...], "meta": {"next_cursor": ...}}`: every list."""

    data: list[T]
    meta: ListMeta


def page_of[M: BaseModel](
    model: type[M], items: Iterable[object], next_cursor: str | None
) -> DataList[M]:
    """A list's page: each item as `model` (read from its attributes or keys)."""
    return DataList(
        data=[model.model_validate(item) for item in items], meta=ListMeta(next_cursor=next_cursor)
    )


class ErrorDetail(BaseModel):
    code: str = Field(description="snake_case error code")
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """`{"error": {...}}`: every error a function returns."""

    error: ErrorDetail


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields are refused, so a client cannot smuggle
    `workspace_id`, `role` or `created_by` into a write (mass assignment)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


def _from_epoch(value: object) -> object:
    """A view's time (epoch seconds) as the contract writes times (RFC 3339, UTC)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return rfc3339(value)
    return value


# A time in a response: given as epoch seconds by a view, written as RFC 3339 text.
Timestamp = Annotated[str, BeforeValidator(_from_epoch)]


class Listed(Protocol):
    """A page of the layer's views (`railguard.workspaces.Listing`)."""

    @property
    def items(self) -> Sequence[object]: ...

    @property
    def next_cursor(self) -> str | None: ...


def _response_type(name: str, view_type: Any) -> Any:
    """A view field's type in a response: a time (`..._at`, epoch seconds) as `Timestamp`."""
    if name.endswith("_at"):
        return Timestamp | None if view_type == int | None else Timestamp
    return view_type


class ViewModel(BaseModel):
    """Base of response models made from the layer's views: `Model.model_validate(view)` reads
    each field from the view's attribute of the same name (times through `Timestamp`), so no
    field is copied by hand and a field the view lacks fails loudly. A route answers
    `Model.data(view)` or, for a list, `Model.page(listing)`.

    `class Key(ViewModel, view=KeyView)` takes its fields from the view dataclass, in its order
    (times as `Timestamp`), less those in `leave_out`; a field the class body declares replaces
    the view's of that name (a nested model, a default)."""

    model_config = ConfigDict(from_attributes=True)

    def __init_subclass__(
        cls, *, view: type | None = None, leave_out: Collection[str] = (), **kwargs: Any
    ) -> None:
        if view is not None:
            declared = dict(inspect.get_annotations(cls))
            view_types = typing.get_type_hints(view)
            cls.__annotations__ = {
                field.name: declared.pop(field.name, None)
                or _response_type(field.name, view_types[field.name])
                for field in dataclasses.fields(view)
                if field.name not in leave_out
            } | declared
        super().__init_subclass__(**kwargs)

    @classmethod
    def data(cls, view: object) -> Data[Self]:
        """`{"data": ...}`: the view as this model."""
        return Data(data=cls.model_validate(view))

    @classmethod
    def page(cls, listing: Listed) -> DataList[Self]:
        """`{"data": [...], "meta": ...}`: each view of the listing as this model."""
        return page_of(cls, listing.items, listing.next_cursor)

    @classmethod
    def shown_once(cls, view: object, **secrets: object) -> Self:
        """The view as this model, with what the view does not hold: the secrets a creation
        shows this once (the model's other fields are the view's)."""
        fields = {name: getattr(view, name) for name in cls.model_fields if name not in secrets}
        return cls.model_validate({**fields, **secrets})
