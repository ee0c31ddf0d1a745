"""The Lambda authorizer in front of every protected route. The pipeline lives in the layer."""

from railguard.authorizer import AuthorizerFunction

authorizer = AuthorizerFunction()

lambda_handler = authorizer.handler
