"""Tables that fit their reader: in a terminal, its width (long names cut with …); in a log or a pipe, as wide as
their content, so no layer name or type is cut (`make demo | tee`, CI logs)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

NO_LIMIT = 100_000


def cell_limit(console: Console, width: int) -> int | None:
    """A column's max width: `width` in a terminal, none where nothing wraps the table."""
    return width if console.is_terminal else None


def print_table(console: Console, table: Table) -> None:
    if console.is_terminal:
        console.print(table)
        return
    needed = console.measure(table, options=console.options.update_width(NO_LIMIT)).maximum
    kept = console.width
    console.width = max(kept, needed)
    try:
        console.print(table)
    finally:
        console.width = kept
