"""One candidate precision, judged: hls4ml converts the model with it, the C simulation library is built (the fast
exact build) and run on the calibration inputs, its top-1 agreement with Keras counted.

A probe is judged on io_parallel with the Latency strategy and ReuseFactor 1: io_type, strategy and ReuseFactor do
not change what the design computes (the same sums in the same types), only how it is built, so one build serves
every architecture the fit then chooses; the chosen design is simulated as it is at the end. Inputs go through in
chunks on every core (parallel.py) and a probe stops as soon as its outcome is certain: more disagreements than
half of what the target allows (the other half is the margin for the held-out inputs), or, given an error budget,
more summed output error than the budget allows over all the inputs. Every probe is kept in the
cache (one JSON line each, keyed by the model, data, target and types), so a re-run resumes where the last one
stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from hlsbox.core.contract import ImageFlow, LayerRow, LayerTable, StepSpec, layer_rows
from hlsbox.steps import csim, frontends, hls
from hlsbox.steps.describe import describe_layer
from hlsbox.steps.fit import parallel
from hlsbox.steps.fit.knobs import Knob
from hlsbox.steps.protocol import StepFailure, muted_phases

CHUNK = 5  # inputs a worker runs between two looks at the outcome (small: the workers end together)
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
    rows: list[LayerRow] = field(default_factory=list)  # the design as describe sees it (io_parallel, RF 1)
    cached: bool = False
    over_error: bool = False  # stopped early: its summed output error already exceeds the error budget
    phases: dict[str, float] = field(default_factory=dict)  # seconds in convert, compile, predict
    inputs: int = 0  # the calibration inputs it would run to the end

    @property
    def error_floor(self) -> float:
        """The least its mean output error over all the inputs can be (the error so far, spread over them all)."""
        return self.mean_abs_diff * self.samples / max(self.inputs, self.samples)


def tables(knobs: list[Knob], fractions: Fractions) -> dict[str, LayerTable]:
    """The flow's [layers] tables for these fractional bits."""
    found = {}
    for knob in knobs:
        if knob.layer not in fractions:  # left as hls4ml builds it (the graph's own types of a QONNX model)
            continue
        types = knob.types(fractions[knob.layer])
        found[knob.table or knob.layer] = LayerTable(precision=types)
        found.update({follower: LayerTable(precision={"result": types["result"]}) for follower in knob.followers})
    return found


def probe_flow(flow: ImageFlow, layer_tables: dict[str, LayerTable]) -> ImageFlow:
    """The flow a probe builds: every type from the tables, the rest hls4ml's own."""
    return flow.replace(
        io_type="io_parallel",
        strategy="Latency",
        reuse_factor=1,
        granularity="name",
        precision={},
        fuse_batchnorm=True,
        fifo_depth="default",
        layer_types={},
        layers=layer_tables,
        csim=replace(flow.csim, exact_build=False, trace=False),
    )


class Prober:
    def __init__(self, model, flow: ImageFlow, spec: StepSpec, knobs: list[Knob], x: np.ndarray, target: float) -> None:
        self.model, self.flow, self.spec, self.knobs = model, flow, spec, knobs
        self.x = np.ascontiguousarray(x)
        self.keras_out = frontends.current().predict(model, self.x).reshape(len(x), -1)
        self.target = target
        # Half the disagreements the target allows: the other half is kept for inputs the search has not seen.
        self.allowed = int(np.floor(MARGIN * (1 - target) * len(x) + 1e-9))
        self.cache = Path(spec.fit.cache_dir) / "probes.jsonl"
        self.known = self._load()
        self.identity = {
            "model": _sha(Path(spec.model_path)),
            "inputs": hashlib.sha256(self.x.tobytes()).hexdigest(),
            "allowed": self.allowed,  # what passes: a probe judged by another rule runs again
            "backend": flow.backend,
        }
        self.count = 0
        self.run = 0  # probes built here (not from the cache)

    def undecided(self, error: float) -> tuple[float, float]:
        """The share of the calibration inputs whose reference top-1 wins by less than this output error (the first
        output over the second), and the median of those margins: where it is most, no type decides the top-1."""
        top_two = np.sort(self.keras_out, axis=1)[:, -2:] if self.keras_out.shape[1] > 1 else None
        if top_two is None:
            return 0.0, float("inf")
        margins = top_two[:, 1] - top_two[:, 0]
        return float(np.mean(margins < error)), float(np.median(margins))

    def judge(self, fractions: Fractions, error_budget: float | None = None) -> Probe:
        """The probe of these types; with an error budget (mean |Keras - HLS|) it stops as soon as it is over."""
        self.count += 1
        key = self._key(fractions, error_budget)
        if key in self.known:
            return Probe(**{**self.known[key], "rows": layer_rows(self.known[key]["rows"]), "cached": True})
        probe = self._build_and_run(fractions, error_budget)
        self.run += 1
        entry = {**asdict(probe), "rows": [row.to_dict() for row in probe.rows]}
        with self.cache.open("a") as f:
            f.write(json.dumps({"key": key, **entry}) + "\n")
        self.known[key] = {k: v for k, v in entry.items() if k != "cached"}
        return probe

    def _build_and_run(self, fractions: Fractions, error_budget: float | None) -> Probe:
        start = time.monotonic()
        flow = probe_flow(self.flow, tables(self.knobs, fractions))
        with muted_phases():
            hls_model, _ = hls.convert(self.model, flow, self.spec.run_path / "probe_prj")
            rows = [describe_layer(layer, 1) for layer in hls_model.get_layers()]
            converted = time.monotonic()
            csim.build_library(hls_model, flow, self.spec.csim_cache, repeated=True)
        compiled = time.monotonic()
        hls_out, disagree, over_error = self._predict(hls_model, error_budget)
        phases = {
            "convert": round(converted - start, 2),
            "compile": round(compiled - converted, 2),
            "predict": round(time.monotonic() - compiled, 2),
        }
        diff = np.abs(hls_out - self.keras_out[: len(hls_out)])
        return Probe(
            fractions,
            1 - disagree / len(hls_out),
            len(hls_out),
            disagree <= self.allowed and not over_error,
            float(diff.max()),
            float(diff.mean()),
            round(time.monotonic() - start, 2),
            rows,
            over_error=over_error,
            phases=phases,
            inputs=len(self.x),
        )

    @property
    def threshold(self) -> float:
        """The agreement a probe needs on all the calibration inputs to pass."""
        return 1 - self.allowed / len(self.x)

    def _predict(self, hls_model, error_budget: float | None) -> tuple[np.ndarray, int, bool]:
        """The C simulation until its outcome is certain: (outputs so far, disagreements, over the error budget)."""
        width = self.keras_out.shape[1]
        error_allowed = np.inf if error_budget is None else error_budget * self.keras_out.size
        outputs, disagree, error = [], 0, 0.0
        chunks = parallel.predict(hls_model.predict, self.x, width, WORKERS, CHUNK)
        try:
            with closing(chunks):
                for first, chunk in chunks:
                    keras = self.keras_out[first : first + len(chunk)]
                    outputs.append(chunk)
                    disagree += int(np.sum(chunk.argmax(1) != keras.argmax(1)))
                    error += float(np.abs(chunk - keras).sum())
                    if disagree > self.allowed or error > error_allowed:
                        break
        except (parallel.WorkerDied, parallel.Silent) as trouble:
            raise StepFailure(
                f"The C simulation of a probe stopped: {trouble}.",
                "Killed by SIGKILL: most likely the memory limit (give --mem more). Another signal: a crash in "
                "hls4ml's C++, whose own message (if any) is in the step log above. The probe cache keeps every "
                "probe before this one: a re-run resumes there.",
            ) from None
        return np.concatenate(outputs), disagree, error > error_allowed

    def _key(self, fractions: Fractions, error_budget: float | None = None) -> str:
        types = {layer: table.to_dict() for layer, table in tables(self.knobs, fractions).items()}
        identity = self.identity if error_budget is None else {**self.identity, "error_budget": error_budget}
        return hashlib.sha256(json.dumps([identity, types], sort_keys=True).encode()).hexdigest()

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


def _sha(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
