"""CORS preflights: every `OPTIONS` request, answered without a credential (railguard.http.cors)."""

from railguard.http.cors import preflight

lambda_handler = preflight
