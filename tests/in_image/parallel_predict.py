"""Run in the image by tests/integration/test_fit_parallel.py: fit's parallel C simulation (steps/fit/parallel.py)
on CIFAR-sized (32x32x3) inputs through a real hls4ml library, stopped in every way it can be.

Cases, one JSON line each (`CASE {...}`): the outputs in order equal the library's own serial predict; breaking out
after the first chunk, many times in a row; a worker SIGKILLed underneath, many times; a library call that never
returns (the silence limit); an exception in the parent (as Ctrl-C raises) while the workers run. Each records the
slowest return and whether any worker process was left behind.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers as L

from hlsbox.steps import fastcsim
from hlsbox.steps.fit import parallel

OUT = Path(sys.argv[1])
LOOPS = 25
WORKERS, CHUNK = 2, 4


def library():
    import hls4ml

    tf.keras.utils.set_random_seed(3)
    inp = L.Input((32, 32, 3))
    x = L.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inp)
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu")(x)
    out = L.Dense(10)(L.GlobalAveragePooling2D()(x))
    model = tf.keras.Model(inp, out)
    config = hls4ml.utils.config_from_keras_model(model, granularity="model", backend="Vivado")
    config["Model"].update(Strategy="Latency", ReuseFactor=1, Precision="ap_fixed<16,6>")
    hls_model = hls4ml.converters.convert_from_keras_model(
        model, hls_config=config, output_dir=str(OUT / "prj"), backend="Vivado", io_type="io_parallel"
    )
    hls_model.write()
    built = fastcsim.fast_compile(hls_model, "/tmp/parallel-tree", log=None)
    return hls_model, built.mode


def children() -> list[int]:
    """Processes whose parent is this one (zombies included): what the workers leave behind."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                found.append(int(entry.name))
    return found


def timed(action) -> tuple[float, str]:
    start = time.monotonic()
    try:
        action()
        outcome = "returned"
    except BaseException as exc:
        outcome = type(exc).__name__
    return time.monotonic() - start, outcome


def emit(case: str, seconds: list[float], outcomes: list[str], **extra) -> None:
    row = {"case": case, "loops": len(seconds), "slowest": max(seconds), "outcomes": sorted(set(outcomes))}
    print("CASE " + json.dumps({**row, "left_behind": children(), **extra}), flush=True)


def main() -> None:
    hls_model, mode = library()
    rng = np.random.default_rng(0)
    x = np.ascontiguousarray(rng.uniform(0, 1, (120, 32, 32, 3)).astype(np.float32))

    run = hls_model.predict
    serial = np.asarray(run(x)).reshape(len(x), -1)
    start = time.monotonic()
    chunks = list(parallel.predict(hls_model.predict, x, 10, WORKERS, CHUNK))
    together = np.concatenate([c for _, c in chunks])
    emit(
        "in_order",
        [time.monotonic() - start],
        ["returned"],
        mode=mode,
        identical=bool(np.array_equal(together, serial)),
        one_worker=bool(np.array_equal(np.concatenate([c for _, c in parallel.predict(run, x, 10, 1, CHUNK)]), serial)),
        firsts=[f for f, _ in chunks] == list(range(0, len(x), CHUNK)),
        nonzero=float(np.mean(serial != 0)),
    )

    def break_early():
        for _ in parallel.predict(hls_model.predict, x, 10, WORKERS, CHUNK):
            break

    seconds, outcomes = zip(*(timed(break_early) for _ in range(LOOPS)), strict=True)
    emit("break_early", list(seconds), list(outcomes))

    def kill_a_worker():
        for _ in parallel.predict(hls_model.predict, x, 10, WORKERS, CHUNK):
            os.kill(children()[-1], signal.SIGKILL)

    seconds, outcomes = zip(*(timed(kill_a_worker) for _ in range(LOOPS)), strict=True)
    emit("worker_killed", list(seconds), list(outcomes))

    def never_returns(chunk):
        time.sleep(3600)

    seconds, outcomes = timed(lambda: list(parallel.predict(never_returns, x, 10, WORKERS, CHUNK, silence=2)))
    emit("silent_library", [seconds], [outcomes])

    def interrupted():
        signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        try:
            list(parallel.predict(never_returns, x, 10, WORKERS, CHUNK))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    seconds, outcomes = zip(*(timed(interrupted) for _ in range(5)), strict=True)
    emit("interrupted", list(seconds), list(outcomes))


if __name__ == "__main__":
    main()
