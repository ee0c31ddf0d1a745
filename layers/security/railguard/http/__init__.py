"""The HTTP side shared by every API function: one resolver setup, one error mapping."""

from railguard.http.function import ApiFunction
from railguard.http.models import Data, DataList, ListMeta

__all__ = ["ApiFunction", "Data", "DataList", "ListMeta"]
