"""The project's own errors. The CLI turns each into a short red message and an exit code."""

from __future__ import annotations

# Exit codes, shared by the CLI, the Makefile and the tests.
EXIT_STEP_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_HUNG = 123  # the hang watchdog stopped a step that was silent and idle
EXIT_TIMEOUT = 124
EXIT_INTERRUPTED = 130
EXIT_OOM = 137


class HlsboxError(Exception):
    """An error with a message (what is wrong) and a hint (how to fix it)."""

    exit_code = EXIT_STEP_FAILED
    kind = "step_failed"  # error.json's kind (contract.ErrorReport)

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class BadInput(HlsboxError):
    """The user's input (flow, model, options, environment) is wrong: exit 2."""

    exit_code = EXIT_BAD_INPUT
    kind = "bad_input"


class StepFailed(HlsboxError):
    """A step ran and failed."""

    def __init__(self, message: str, hint: str = "", exit_code: int = EXIT_STEP_FAILED) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code
