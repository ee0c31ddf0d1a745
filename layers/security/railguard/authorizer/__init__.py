"""The Lambda authorizer's decision pipeline over an HTTP API payload 2.0 REQUEST event."""

from railguard.authorizer.function import AuthorizerFunction, AuthorizerSettings

__all__ = ["AuthorizerFunction", "AuthorizerSettings"]
