"""Rules of the source that no single behaviour shows, checked by reading the code."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCES = (ROOT / "layers" / "security" / "railguard", ROOT / "functions")


def _positional_reason_reads(path: Path) -> list[str]:
    """Where `path` subscripts or slices a `.reasons` list: `file:line: code`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    reads = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "reasons"
    ]
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
        for node in sorted(reads, key=lambda node: (node.lineno, node.col_offset))
    ]


def test_no_code_reads_a_cancellation_reason_by_position() -> None:
    # Given every Python file of the layer and the functions
    files = sorted(path for source in SOURCES for path in source.rglob("*.py"))
    assert len(files) > 50  # the scan sees the tree, not an empty folder
    # When each is searched for `.reasons[...]`
    found = [read for path in files for read in _positional_reason_reads(path)]
    # Then there is none: what a failed write means is declared with the write
    # (`TransactItem.fails_as`), and only the store maps DynamoDB's reasons to it, by pairing
    # each write with its reason
    assert found == [], "cancellation reasons read by position:\n" + "\n".join(found)
