"""What a step leaves beside its result and how it talks to the host: error.json, and the mark that starts a
phase in its log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hlsbox.core.jsonrecord import JsonRecord

PHASE_MARK = "@@hlsbox phase "


@dataclass(frozen=True)
class ErrorReport(JsonRecord):
    """error.json: a step's refusal (bad input, exit 2) or explained failure (exit 1), with its hint."""

    kind: str
    message: str
    hint: str

    @classmethod
    def read(cls, path: Path) -> ErrorReport | None:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None
