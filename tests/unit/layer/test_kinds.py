"""The resource kinds (`railguard.kinds`): each declared once, and what is derived from them
holds together: ids, audit actions, route actions, sealed purposes and the template's grants."""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from infra.template import load_template
from railguard.access import policy
from railguard.audit.trail import ACTIONS, Actor, AuditEvent
from railguard.core.redaction import scrub_text
from railguard.kinds import KINDS, ResourceKind, sealed_purposes

TEMPLATE = load_template(Path(__file__).resolve().parents[3] / "template.yaml")


def _repeated(values: list[Any]) -> set[Any]:
    return {value for value, count in Counter(values).items() if count > 1}


def test_no_two_kinds_share_a_name_an_id_prefix_an_audit_action_or_a_route() -> None:
    # Given every kind / Then nothing one declares is declared by another
    assert _repeated([kind.name for kind in KINDS]) == set()
    assert _repeated([kind.id_prefix for kind in KINDS if kind.id_prefix]) == set()
    assert _repeated([action for kind in KINDS for action in kind.audit_actions]) == set()
    assert _repeated([action for kind in KINDS for action in kind.actions]) == set()
    assert _repeated([route for kind in KINDS for route in kind.routes]) == set()
    entries = [kind.placement.entry for kind in KINDS if kind.placement is not None]
    assert _repeated(entries) == set()


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_a_kinds_rules_name_only_scopes_a_key_can_hold(kind: ResourceKind) -> None:
    # Given the scopes its rules admit API keys with
    scopes = {rule.scope for rule in kind.actions.values() if rule.scope is not None}
    # Then each is one a key may be given (a misspelt one would be a rule no key ever meets)
    assert scopes <= set(policy.SCOPES)


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_a_kinds_routes_name_its_own_actions_and_each_action_has_a_route(
    kind: ResourceKind,
) -> None:
    assert set(kind.routes.values()) == set(kind.actions)


@pytest.mark.parametrize(
    "kind", [kind for kind in KINDS if kind.id_prefix], ids=lambda kind: kind.name
)
def test_an_id_is_of_its_kind_and_stays_readable_in_logs(kind: ResourceKind) -> None:
    # Given a new id of the kind
    new = kind.new_id()
    # Then it is of this kind and no other, and logs keep it (no secret's prefix)
    assert [other.name for other in KINDS if other.is_id(new)] == [kind.name]
    assert scrub_text(new) == new


def test_a_kind_without_ids_refuses_to_make_one() -> None:
    nameless = next(kind for kind in KINDS if kind.id_prefix is None)
    with pytest.raises(TypeError):
        nameless.new_id()


def test_the_registries_are_the_kinds() -> None:
    # Then the permission table and the audit trail know exactly what the kinds declare
    assert set(policy.ROUTE_ACTIONS) == {route for kind in KINDS for route in kind.routes}
    assert set(policy.RULES) == {action for kind in KINDS for action in kind.actions}
    assert {action for kind in KINDS for action in kind.audit_actions} == ACTIONS


@pytest.mark.parametrize(
    ("action", "target_type"),
    [("member.added", "user"), ("credential.purged", "credential"), ("mfa.enabled", "user")],
)
def test_an_events_target_is_of_the_kind_declaring_its_action(
    action: str, target_type: str
) -> None:
    event = AuditEvent(action, Actor.user("usr_1"), "x", "ws_1")
    assert event.target_type == target_type


def test_an_audit_action_no_kind_declares_is_refused() -> None:
    with pytest.raises(ValueError, match="declares"):
        AuditEvent("credential.teleported", Actor.user("usr_1"), "x", "ws_1")


def _statement_purposes(function: str, action: str) -> set[str]:
    policies = TEMPLATE.resources[function].properties["Policies"]
    for document in policies:
        for statement in document.get("Statement", []):
            actions = statement["Action"]
            if action in (actions if isinstance(actions, list) else [actions]):
                condition = statement.get("Condition", {}).get("StringEquals", {})
                return set(condition["kms:EncryptionContext:purpose"])
    raise AssertionError(f"{function} has no {action} statement")


@pytest.mark.parametrize("action", ["kms:GenerateDataKey", "kms:Decrypt"])
def test_the_rotation_job_reseals_exactly_the_purposes_the_kinds_seal_under(action: str) -> None:
    assert _statement_purposes("RotationJobFunction", action) == sealed_purposes()


def test_every_purpose_the_layer_seals_under_is_declared_by_a_kind() -> None:
    # Given every `*_PURPOSE` constant of the layer's modules (what `SecretOwner`s are made of)
    root = Path(__file__).resolve().parents[3] / "layers" / "security"
    found: set[str] = set()
    for path in (root / "railguard").rglob("*.py"):
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        constants = vars(importlib.import_module(module))
        found |= {value for name, value in constants.items() if name.endswith("_PURPOSE")}
    # Then they are exactly the purposes the kinds declare (and the rotation job re-seals)
    assert found == sealed_purposes()
