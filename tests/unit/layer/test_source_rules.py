"""Rules of the source that no single behaviour shows, checked by reading the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SOURCES = (ROOT / "layers" / "security" / "railguard", ROOT / "functions")


# The one module that reads DynamoDB's cancellation reasons, to raise what a write declared.
STORE = ROOT / "layers" / "security" / "railguard" / "store" / "table.py"


def _reason_reads(path: Path) -> list[str]:
    """Where `path` reads a `.reasons` list at all (an index, a slice, an unpacking, a zip with
    the writes): `file:line: code`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    reads = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "reasons"
    ]
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
        for node in sorted(reads, key=lambda node: (node.lineno, node.col_offset))
    ]


def test_no_code_but_the_store_reads_cancellation_reasons() -> None:
    # Given every Python file of the layer and the functions but the store's table
    files = sorted(path for source in SOURCES for path in source.rglob("*.py") if path != STORE)
    assert len(files) > 50  # the scan sees the tree, not an empty folder
    # When each is searched for `.reasons`
    found = [read for path in files for read in _reason_reads(path)]
    # Then there is none: what a failed write means is declared with the write
    # (`TransactItem.fails_as`), and only the store maps DynamoDB's reasons to it, by pairing
    # each write with its reason; so no reordering of a writes list changes a client's error
    assert found == [], "cancellation reasons read outside the store:\n" + "\n".join(found)


# What a DynamoDB expression looks like: an update's clauses, a condition's functions and
# comparisons, and the `#name` / `:value` placeholders they use.
_EXPRESSION = re.compile(
    r"^(SET|REMOVE|ADD|DELETE) [#:A-Za-z_]"
    r"|\b(attribute_exists|attribute_not_exists|attribute_type|begins_with|contains|size)\("
    r"|[#:][A-Za-z_]\w*\s*(=|<>|<=|>=|<|>|BETWEEN)"
    r"|(=|<>|<=|>=|<|>)\s*:[A-Za-z_]"
)
# A placeholder alone (a `values` or `names` key), unless it is a piece of an f-string: there a
# `:read` ends an action name (`f"{scope}:read"`), never a placeholder.
_PLACEHOLDER = re.compile(r"^[#:][A-Za-z_]\w*$")


def _is_repository(path: Path) -> bool:
    """The store, and each resource's repository, are where storage details may be written."""
    return STORE.parent in path.parents or path.stem.endswith("repository")


def _docstrings(tree: ast.AST) -> set[int]:
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def _expression_nodes(tree: ast.AST) -> list[ast.Constant]:
    """The string constants of `tree` (docstrings aside) shaped like a DynamoDB expression."""
    docstrings = _docstrings(tree)
    pieces = {
        id(piece)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for piece in node.values
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and (
            _EXPRESSION.search(node.value)
            or (id(node) not in pieces and _PLACEHOLDER.search(node.value))
        )
    ]


def _expressions(path: Path) -> list[str]:
    """`file:line: text` of each expression-shaped string of `path`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
        for node in _expression_nodes(tree)
    ]


def test_no_expression_is_written_outside_the_store_and_the_repositories() -> None:
    # Given every Python file of the layer and the functions that is no repository
    files = sorted(
        path for source in SOURCES for path in source.rglob("*.py") if not _is_repository(path)
    )
    assert len(files) > 50
    # When each is searched for strings shaped like a DynamoDB expression
    found = [expression for path in files for expression in _expressions(path)]
    # Then there is none: each resource's keys, attribute names and expressions live in its
    # repository, and the services above speak in its methods
    assert found == [], "expressions outside a repository:\n" + "\n".join(found)


def test_the_expression_rule_sees_an_expression_and_not_an_action_name() -> None:
    # Given a module that writes an update, a condition and a value the way the store takes
    # them, and an action name made in an f-string
    source = (
        'UPDATE = "SET #status = :deleted"\n'
        'CHECK = f"attribute_exists(pk) AND x < :{1}"\n'
        'VALUES = {":now": 1}\n'
        'ACTION = f"{scope}:read"\n'
    )
    # Then the first three are found, and the action name is not
    found = [node.value for node in _expression_nodes(ast.parse(source))]
    assert found == ["SET #status = :deleted", "attribute_exists(pk) AND x < :", ":now"]
    assert not _is_repository(ROOT / "layers" / "security" / "railguard" / "access" / "policy.py")


# Packages whose services spell no storage at all, beyond expressions: no key prefix (`USER#`),
# no item attribute read by name (`item["status"]`), no `"pk"`/`"sk"`; they read typed records.
REPOSITORIED = ("identity",)
_KEY_PREFIX = re.compile(r"\b[A-Z][A-Z_]*#")


def _storage_spellings(path: Path) -> list[str]:
    """Where `path` spells storage: an expression or a key prefix in a string (docstrings
    aside), a string-keyed subscript (`item["status"]`) or a `"pk"`/`"sk"` item key."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = _docstrings(tree)
    found = [
        node
        for node in ast.walk(tree)
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and (
                _EXPRESSION.search(node.value)
                or _KEY_PREFIX.search(node.value)
                or node.value in ("pk", "sk")
            )
        )
        or (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        )
    ]
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
        for node in sorted(found, key=lambda node: (node.lineno, node.col_offset))
    ]


@pytest.mark.parametrize("package", REPOSITORIED)
def test_services_leave_storage_to_their_repositories(package: str) -> None:
    # Given the modules of a package whose storage is behind repositories, but those
    modules = sorted(
        path for path in (SOURCES[0] / package).rglob("*.py") if not _is_repository(path)
    )
    assert modules, f"no module in {package}"
    # When each is searched for the spelling of storage
    found = [spelling for path in modules for spelling in _storage_spellings(path)]
    # Then there is none: keys, attribute names, expressions and item layout are the
    # repositories', and the services above them read typed records
    assert found == [], "storage spelled outside a repository:\n" + "\n".join(found)
