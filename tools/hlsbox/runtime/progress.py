"""Live view of a step: the phase, elapsed time and latest line, with warnings and errors kept.

On a terminal this is a rich live line; elsewhere (CI, pipes) each phase change is one plain line,
so logs stay readable.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from hlsbox.core.contract import PHASE_MARK
from hlsbox.core.units import human_duration


class StepDisplay:
    def __init__(
        self,
        console: Console,
        title: str,
        log_path: Path,
        verbose: bool = False,
        reader: object | None = None,
        stall_note: str = "",
    ) -> None:
        self.console, self.title, self.verbose, self.stall_note = console, title, verbose, stall_note
        self.reader = reader  # a tool-log reader (vivado_log.LogState): read(line) -> changed, summary()
        self.detail = ""
        self.log = log_path.open("a", encoding="utf-8")
        self.phase = "starting container"
        self.last_line = ""
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self.start = self.phase_start = time.monotonic()
        self.phase_times: dict[str, float] = {}
        self.live = (
            Live(self._render(), console=console, refresh_per_second=4, transient=True) if console.is_terminal else None
        )

    def __enter__(self) -> StepDisplay:
        if self.live:
            self.live.start()
        else:
            self.console.print(f"[bold]{self.title}[/]: {self.phase}")
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._close_phase()
        if self.live:
            self.live.stop()
        self.log.close()

    def line(self, text: str) -> None:
        self.log.write(text + "\n")
        if text.startswith(PHASE_MARK):
            self._close_phase()
            self.phase, self.phase_start = text[len(PHASE_MARK) :], time.monotonic()
            if not self.live:
                self.console.print(f"[bold]{self.title}[/]: {self.phase}  [dim]({human_duration(self.elapsed)})[/]")
        elif text.strip():
            self.last_line = text.strip()
            if self.reader is not None and self.reader.read(text):
                detail = self.reader.summary()
                if detail.split(" · ")[0] != self.detail.split(" · ")[0]:  # a new phase of the tool
                    self.console.print(f"[bold]{self.title}[/]: {detail}  [dim]({human_duration(self.elapsed)})[/]")
                self.detail = detail
            for note in getattr(self.reader, "notes", list)():  # a known warning, explained once
                self.console.print(Text(f"{self.title}: {note}", style="yellow"))
            head = text.lstrip()
            if head.startswith(("WARNING:", "WARNING ", "Warning:")):
                self.warnings.append(text.strip())
                if self.reader is None or self.verbose:  # a tool's many warnings are counted, not printed
                    self.console.print(Text(text.strip(), style="yellow"))
            elif head.startswith(("ERROR:", "ERROR ", "Error:")) or "Traceback (most recent call last)" in text:
                self.errors.append(text.strip())
            elif self.verbose:
                self.console.print(Text(text, style="dim"))
        self.tick()

    def stalled(self, seconds: float) -> None:
        """The stall warning: the phase, what the tool's reader knows of it, and the step's note (the plan)."""
        hint = getattr(self.reader, "stall_hint", lambda: "")()
        notes = "".join(f" {text}" for text in (hint, self.stall_note and f"{self.stall_note}.") if text)
        self.console.print(
            Text.assemble(
                (f"{self.title}: no output for {human_duration(seconds)}", "yellow"),
                f" (phase: {self.detail or self.phase}); the step may be stuck or only silent "
                f"(the hang watchdog stops it only when it also uses no CPU).{notes}",
            )
        )

    def tick(self) -> None:
        if self.live:
            self.live.update(self._render())

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def _close_phase(self) -> None:
        self.phase_times[self.phase] = round(
            self.phase_times.get(self.phase, 0) + time.monotonic() - self.phase_start, 2
        )
        self.phase_start = time.monotonic()

    def _render(self) -> Spinner:
        text = Text.assemble(
            (self.title, "bold"), ": ", (self.detail or self.phase, "cyan"), f"  {human_duration(self.elapsed)}"
        )
        if self.last_line:
            text.append(f"  {self.last_line[: max(10, self.console.width - len(text) - 6)]}", style="dim")
        return Spinner("dots", text=text)
