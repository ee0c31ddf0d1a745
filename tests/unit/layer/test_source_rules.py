"""Rules of the source that no single behaviour shows, checked by reading the code."""

from __future__ import annotations

import ast
from pathlib import Path

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
