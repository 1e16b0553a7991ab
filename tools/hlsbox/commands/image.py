"""`hlsbox image build` and `hlsbox image describe`: the image's build with progress, and what it holds."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hlsbox.core.units import human_size
from hlsbox.runtime import image
from hlsbox.runtime.engines import Engine
from hlsbox.runtime.tables import print_table
from hlsbox.runtime.toolchains import DEFAULT, Toolchain

# The packages `describe` names in its summary: these, and the toolchain's own (core.toolchains)
HIGHLIGHTS = ("numpy", "hls4ml")
STATE_DIR = Path("build") / "images"  # each build's package set, to say what a rebuild changed


def build(
    console: Console, engine: Engine, options: image.BuildOptions, pull: bool, toolchain: Toolchain = DEFAULT
) -> str:
    with console.status("base image") as status:
        base = image.ensure_base(engine, lambda line: status.update(f"base image: {line[:100]}"), pull)
    tag = image.tag_for(base.id, toolchain=toolchain)
    if engine.image_id(tag):
        console.print(f"[green]Image up to date:[/] {tag}")
        return tag
    log_path = Path("build") / ("image-build.log" if toolchain == DEFAULT else f"image-build-{toolchain.name}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    console.print(
        f"Building {tag} ({toolchain.name} toolchain) on {base.ref} with {engine.name}"
        + (f", CA bundle {options.ca_bundle}" if options.ca_bundle else "")
    )
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
    )
    with log_path.open("w") as log, Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("image build", total=None)

        def on_step(n: int, total: int, text: str) -> None:
            progress.update(task, completed=n - 1, total=total, description=text[:60])

        image.build_image(engine, base, options, on_step, lambda line: log.write(line + "\n"), toolchain)
        progress.update(task, completed=progress.tasks[0].total or 1)
    console.print(f"[green]Built[/] {tag} ({engine.image_size(tag) / 1e9:.2f} GB); log: {log_path}")
    state = STATE_DIR if toolchain == DEFAULT else STATE_DIR / toolchain.name
    changes = image.record_packages(state, tag, image.packages(engine, tag))
    if changes:
        console.print(f"[yellow]Packages changed since the last build ({len(changes)}):[/]")
        for change in changes:
            console.print(f"  {change}")
    elif changes is not None:
        console.print("Same packages as the last build.")
    return tag


def describe(console: Console, engine: Engine, list_packages: bool, toolchain: Toolchain = DEFAULT) -> None:
    ref = image.find_image(engine, toolchain)
    base = image.present_base(engine)
    found = image.packages(engine, ref.id)
    table = Table(show_header=False, box=None)
    table.add_row("toolchain", f"{toolchain.name}: {toolchain.reads}")
    table.add_row("tag", ref.tag)
    table.add_row("id", ref.id)
    table.add_row("base", f"{base.ref} ({base.id})" if base else "?")
    table.add_row("size", human_size(engine.image_size(ref.tag)))
    table.add_row("engine", f"{engine.info().name} {engine.info().version}")
    for kind, packages in found.items():
        key = {
            "python": (*toolchain.packages, *HIGHLIGHTS),
            "debian": ("g++", "ccache", "faketime"),
        }
        lower = {name.lower(): (name, version) for name, version in packages.items()}
        highlights = ", ".join(" ".join(lower[name]) for name in key.get(kind, ()) if name in lower)
        table.add_row(f"{kind} packages", f"{len(packages)}" + (f" ({highlights})" if highlights else ""))
    print_table(console, table)
    if list_packages:
        for kind, packages in found.items():
            listing = Table(title=f"{kind} packages", title_justify="left")
            listing.add_column("package")
            listing.add_column("version")
            for name, version in sorted(packages.items()):
                listing.add_row(name, version)
            console.print(listing)
