"""Real reports and logs from elsewhere (third-party files, never copied into the repository): they live in
`../shared/reports/` beside the checkout (CI has them there), or where HLSBOX_SHARED_REPORTS points. A plain
clone without them skips the tests that need them; under CI (CI=true) a missing file fails the test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CANDIDATES = [
    Path(os.environ["HLSBOX_SHARED_REPORTS"]) if os.environ.get("HLSBOX_SHARED_REPORTS") else None,
    REPO.parent / "shared" / "reports",
    Path("/work/shared/reports"),
]


def reports_dir() -> Path | None:
    return next((path for path in CANDIDATES if path is not None and path.is_dir()), None)


def shared(relative: str) -> Path:
    """The shared file, or the test skips (fails under CI)."""
    base = reports_dir()
    path = base / relative if base else None
    if path is None or not path.is_file():
        why = f"real report/log {relative} not present (it lives in ../shared/reports, not in the repository)"
        (pytest.fail if os.environ.get("CI") else pytest.skip)(why)
    return path


AUTHOR_CANDIDATES = [
    Path(os.environ["HLSBOX_SHARED_SEED"]) if os.environ.get("HLSBOX_SHARED_SEED") else None,
    REPO.parent / "shared" / "seed" / "author",
    Path("/work/shared/seed/author"),
]


def seed_author(relative: str) -> Path:
    """A file or folder of the seed author's published artefacts (`../shared/seed/author/`, never copied into
    the repository: its model_2_15.keras, sample_images/, logs), or the test skips (fails under CI)."""
    base = next((path for path in AUTHOR_CANDIDATES if path is not None and path.is_dir()), None)
    path = base / relative if base else None
    if path is None or not path.exists():
        why = f"the seed author's {relative} not present (it lives in ../shared/seed/author, not in the repository)"
        (pytest.fail if os.environ.get("CI") else pytest.skip)(why)
    return path
