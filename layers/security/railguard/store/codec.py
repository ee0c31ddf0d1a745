"""DynamoDB's attribute-value encoding, both ways, for the plain Python values items hold.

Written here (a page of code) rather than taken from `boto3.dynamodb.types`, because importing
that module imports all of boto3, which the authorizer's cold start otherwise avoids (about
20 ms, `make bench`). Numbers come back as `int` when integral, else `float`; binary as `bytes`;
floats are refused on the way in, as boto3 refuses them, since DynamoDB numbers are decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def to_attribute(value: Any) -> dict[str, Any]:  # noqa: PLR0911 - a return per type
    """One Python value as an attribute value (`{"S": ...}`, `{"N": ...}`, ...)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, Mapping):
        return {"M": {str(name): to_attribute(item) for name, item in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(item) for item in value]}
    if isinstance(value, set | frozenset) and value:
        return _set_attribute(value)
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB")


def _set_attribute(values: set[Any] | frozenset[Any]) -> dict[str, Any]:
    if all(isinstance(item, str) for item in values):
        return {"SS": sorted(values)}
    if all(isinstance(item, int | Decimal) and not isinstance(item, bool) for item in values):
        return {"NS": sorted(str(item) for item in values)}
    if all(isinstance(item, bytes) for item in values):
        return {"BS": sorted(values)}
    raise TypeError("a set must hold only strings, only integers or only bytes")


def _number(text: str) -> int | float:
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


def from_attribute(attribute: Mapping[str, Any]) -> Any:  # noqa: PLR0911 - a return per type
    """One attribute value as a plain Python value."""
    (kind, value), *_ = attribute.items()
    match kind:
        case "S" | "BOOL" | "B":
            return value
        case "N":
            return _number(value)
        case "NULL":
            return None
        case "M":
            return {name: from_attribute(item) for name, item in value.items()}
        case "L":
            return [from_attribute(item) for item in value]
        case "SS" | "BS":
            return set(value)
        case "NS":
            return {_number(item) for item in value}
    raise TypeError(f"unknown attribute type {kind!r}")
