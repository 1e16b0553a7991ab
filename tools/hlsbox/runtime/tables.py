"""Tables that fit their reader: in a terminal, its width (long names cut with …); in a log or a pipe, as wide as
their content, so no layer name or type is cut (`make demo | tee`, CI logs)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hlsbox.core.contract import ResultTable

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


def show_result_table(console: Console, result: ResultTable, run_dir: Path) -> None:
    """A step's ResultTable (the default view of a step), then its notes and where the result is."""
    table = Table(title=result.title, title_justify="left")
    for column in result.columns:
        table.add_column(column)
    for row in result.rows:
        table.add_row(*map(escape, row))
    print_table(console, table)
    for note in result.notes:
        console.print(f"[yellow]{escape(note)}[/]")
    console.print(f"[green]Result:[/] {run_dir}/result.json")
