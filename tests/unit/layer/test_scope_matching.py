"""Scopes match exactly, never by prefix, suffix, case or wildcard (property-based)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from railguard import kinds
from railguard.access import policy
from railguard.access.principal import Principal
from railguard.api_keys import KeySettings, validate
from railguard.core.errors import Forbidden, ValidationFailed

SCOPED_RULES = [rule for rule in policy.RULES.values() if rule.scope is not None]
scope_names = st.sampled_from(policy.SCOPES)


def _look_alikes() -> st.SearchStrategy[str]:
    """Strings built from a real scope that are not that scope."""
    return st.one_of(
        st.builds(lambda s, n: s[:n], scope_names, st.integers(0, 30)),
        st.builds(lambda s, tail: s + tail, scope_names, st.text(min_size=1, max_size=5)),
        st.builds(lambda head, s: head + s, st.text(min_size=1, max_size=5), scope_names),
        st.builds(str.upper, scope_names),
        st.builds(lambda s: s.split(":")[0] + ":*", scope_names),
        st.builds(lambda s: s.split(":")[0], scope_names),
    ).filter(lambda value: value not in policy.SCOPES)


@given(look_alike=_look_alikes(), rule=st.sampled_from(SCOPED_RULES))
def test_a_key_holding_a_look_alike_scope_is_refused(look_alike: str, rule: kinds.Rule) -> None:
    key = Principal("api_key", "key_1", workspace_id="ws_1", scopes=frozenset({look_alike}))
    with pytest.raises(Forbidden):
        policy.check(key, rule)


@given(look_alike=_look_alikes())
def test_a_look_alike_scope_is_refused_at_creation(look_alike: str) -> None:
    settings = KeySettings("k", (look_alike,), (), (), None, None)
    with pytest.raises(ValidationFailed):
        validate(settings, now=0, plan="free")


@given(scope=scope_names)
def test_the_exact_scope_allows_exactly_its_routes(scope: str) -> None:
    key = Principal("api_key", "key_1", workspace_id="ws_1", scopes=frozenset({scope}))
    for rule in SCOPED_RULES:
        if rule.scope == scope:
            policy.check(key, rule)
        else:
            with pytest.raises(Forbidden):
                policy.check(key, rule)
