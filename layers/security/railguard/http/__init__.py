"""The HTTP side shared by every API function: one resolver setup, one error mapping, and the
bases of its models (the annotated field and parameter types are in `railguard.http.models`)."""

from railguard.http.function import ApiFunction
from railguard.http.models import Data, DataList, ListMeta, RequestModel, ViewModel

__all__ = ["ApiFunction", "Data", "DataList", "ListMeta", "RequestModel", "ViewModel"]
