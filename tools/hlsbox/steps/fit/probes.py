"""One candidate precision, judged: hls4ml converts the model with it, the C simulation library is built (the fast
exact build) and run on the calibration inputs, its top-1 agreement with Keras counted.

A probe is judged on io_parallel with the Latency strategy and ReuseFactor 1: io_type, strategy and ReuseFactor do
not change what the design computes (the same sums in the same types), only how it is built, so one build serves
every architecture the fit then chooses; the chosen design is simulated as it is at the end. Inputs go through in
chunks and a probe stops as soon as it has more disagreements than half of what the target allows (the other
half is the margin for the held-out inputs). Every probe is kept in the
cache (one JSON line each, keyed by the model, data, target and types), so a re-run resumes where the last one
stopped.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hlsbox.steps import csim, hls
from hlsbox.steps.describe import describe_layer
from hlsbox.steps.fit.knobs import Knob
from hlsbox.steps.protocol import muted_phases

CHUNK = 25
WORKERS = max(1, min(4, len(os.sched_getaffinity(0))))
MARGIN = 0.5
Fractions = dict[str, dict[str, int]]  # layer -> {"result": bits, "weight": bits}


@dataclass
class Probe:
    fractions: Fractions
    agreement: float  # top-1 agreement with Keras on the inputs run
    samples: int  # inputs run (fewer than all when it stopped early)
    passed: bool
    max_abs_diff: float
    mean_abs_diff: float
    seconds: float
    rows: list[dict] = field(default_factory=list)  # the design as describe sees it (io_parallel, RF 1)
    cached: bool = False


def tables(knobs: list[Knob], fractions: Fractions) -> dict[str, dict]:
    """The flow's [layers] tables for these fractional bits."""
    found = {}
    for knob in knobs:
        types = knob.types(fractions[knob.layer])
        found[knob.layer] = {"precision": types}
        found.update({follower: {"precision": {"result": types["result"]}} for follower in knob.followers})
    return found


def probe_flow(flow: dict, layer_tables: dict[str, dict]) -> dict:
    """The flow a probe builds: every type from the tables, the rest hls4ml's own."""
    return {
        **flow,
        "io_type": "io_parallel",
        "strategy": "Latency",
        "reuse_factor": 1,
        "granularity": "name",
        "precision": {},
        "fuse_batchnorm": True,
        "fifo_depth": "default",
        "layer_types": {},
        "layers": layer_tables,
        "csim": {**flow["csim"], "exact_build": False, "trace": False},
    }


class Prober:
    def __init__(self, model, flow: dict, spec: dict, knobs: list[Knob], x: np.ndarray, target: float) -> None:
        self.model, self.flow, self.spec, self.knobs = model, flow, spec, knobs
        self.x = np.ascontiguousarray(x)
        self.keras_out = np.asarray(model.predict(self.x, verbose=0)).reshape(len(x), -1)
        self.target = target
        # Half the disagreements the target allows: the other half is kept for inputs the search has not seen.
        self.allowed = int(np.floor(MARGIN * (1 - target) * len(x) + 1e-9))
        self.cache = Path(spec["cache_dir"]) / "probes.jsonl"
        self.known = self._load()
        self.identity = {
            "model": _sha(Path(spec["model_path"])),
            "inputs": hashlib.sha256(self.x.tobytes()).hexdigest(),
            "allowed": self.allowed,  # what passes: a probe judged by another rule runs again
            "backend": flow["backend"],
        }
        self.count = 0
        self.run = 0  # probes built here (not from the cache)

    def judge(self, fractions: Fractions) -> Probe:
        self.count += 1
        key = self._key(fractions)
        if key in self.known:
            return Probe(**{**self.known[key], "cached": True})
        probe = self._build_and_run(fractions)
        self.run += 1
        with self.cache.open("a") as f:
            f.write(json.dumps({"key": key, **asdict(probe)}) + "\n")
        self.known[key] = {k: v for k, v in asdict(probe).items() if k != "cached"}
        return probe

    def _build_and_run(self, fractions: Fractions) -> Probe:
        start = time.monotonic()
        flow = probe_flow(self.flow, tables(self.knobs, fractions))
        with muted_phases():
            hls_model, _ = hls.convert(self.model, flow, Path(self.spec["run_dir"]) / "probe_prj")
            rows = [describe_layer(layer, 1) for layer in hls_model.get_layers()]
            csim.build_library(hls_model, flow, self.spec)
        outputs, disagree = [], 0
        for chunk in predict_in_parallel(hls_model, self.x, self.keras_out.shape[1]):
            begin = sum(len(o) for o in outputs)
            outputs.append(chunk)
            disagree += int(np.sum(chunk.argmax(1) != self.keras_out[begin : begin + len(chunk)].argmax(1)))
            if disagree > self.allowed:
                break
        hls_out = np.concatenate(outputs)
        diff = np.abs(hls_out - self.keras_out[: len(hls_out)])
        return Probe(
            fractions,
            1 - disagree / len(hls_out),
            len(hls_out),
            disagree <= self.allowed,
            float(diff.max()),
            float(diff.mean()),
            round(time.monotonic() - start, 2),
            rows,
        )

    def _key(self, fractions: Fractions) -> str:
        types = tables(self.knobs, fractions)
        return hashlib.sha256(json.dumps([self.identity, types], sort_keys=True).encode()).hexdigest()

    def _load(self) -> dict[str, dict]:
        known = {}
        if self.cache.is_file():
            for line in self.cache.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:  # a line cut short by a kill: the probe runs again
                    continue
                known[entry.pop("key")] = entry
        return known


def predict_in_parallel(hls_model, x: np.ndarray, width: int) -> Iterator[np.ndarray]:
    """The C simulation on chunks of x, in order, one process per core (forked: the library is loaded once).
    Stopping the iteration stops the workers."""
    workers = min(WORKERS, max(1, len(x) // CHUNK))
    chunks = [x[i : i + CHUNK] for i in range(0, len(x), CHUNK)]
    if workers == 1:
        for chunk in chunks:
            yield np.asarray(hls_model.predict(chunk)).reshape(-1, width)
        return
    _library[0] = hls_model
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for out in pool.imap(_predict, chunks):
            yield out.reshape(-1, width)


_library: list = [None]  # the compiled model, for the forked workers


def _predict(chunk: np.ndarray) -> np.ndarray:
    return np.asarray(_library[0].predict(np.ascontiguousarray(chunk)))


def _sha(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
