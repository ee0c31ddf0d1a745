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


# Packages whose every resource's storage is behind a repository (`repository.py` or
# `<resource>_repository.py`): their services hold rules, never how an item is stored.
REPOSITORIED = ("identity",)

_EXPRESSION = re.compile(
    r"^(SET|REMOVE|ADD|DELETE) "  # an update expression
    r"|(attribute_(not_)?exists|begins_with|contains|attribute_type|size)\("  # a condition
    r"|(^|[\s(])[#:][a-z_]+\b"  # an attribute name or value placeholder
    r"|\b[A-Z][A-Z_]*#"  # a key prefix (`USER#`)
)


def _storage_spellings(path: Path) -> list[str]:
    """Where `path` spells storage: an expression fragment or key prefix in a string (docstrings
    aside), a string-keyed subscript (`item["status"]`) or a `"pk"`/`"sk"` item key."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant | ast.Subscript):
            continue
        spelled = (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and (_EXPRESSION.search(node.value) or node.value in ("pk", "sk"))
        ) or (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        )
        if spelled:
            found.append(node)
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
        for node in sorted(found, key=lambda node: (node.lineno, node.col_offset))
    ]


@pytest.mark.parametrize("package", REPOSITORIED)
def test_services_leave_storage_to_their_repositories(package: str) -> None:
    # Given the modules of a package whose storage is behind repositories, but those
    modules = sorted(
        path
        for path in (SOURCES[0] / package).rglob("*.py")
        if not path.stem.endswith("repository")
    )
    assert modules, f"no module in {package}"
    # When each is searched for the spelling of storage
    found = [spelling for path in modules for spelling in _storage_spellings(path)]
    # Then there is none: keys, attribute names, expressions and item layout are the
    # repositories', and the services above them read typed records
    assert found == [], "storage spelled outside a repository:\n" + "\n".join(found)
