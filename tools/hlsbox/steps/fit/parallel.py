"""The C simulation of many inputs on every core, that can always be stopped: forked workers, no pool.

The parent forks the workers after the library is loaded; each reads its inputs from the parent's memory by index
(the fork's copy of the array: nothing is pickled or fed through a pipe, so nothing can block on feeding a worker)
and writes each chunk's outputs to a pipe of its own. The parent reads those pipes with select() and a timeout, and
hands the chunks back in input order. Leaving the iteration early (an outcome already certain), an error, Ctrl-C or
a worker that died all end the same way: SIGKILL to the workers' process group, then waitpid on each. A worker
also dies with its parent (PR_SET_PDEATHSIG). multiprocessing.Pool is what this replaces: its task-handler thread
blocked for good in a send of a 32x32x3 chunk to a worker already gone (issue 18).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import struct
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

HEADER = struct.Struct("<qq")  # chunk index, bytes of float64 outputs that follow
SILENCE = 300.0  # seconds without any chunk back before the prediction is given up as hung
PR_SET_PDEATHSIG = 1


class WorkerDied(RuntimeError):
    """A worker ended before it handed back all its chunks (a crash of the C library, or a kill)."""

    def __init__(self, pid: int, status: str) -> None:
        super().__init__(f"C simulation worker {pid} {status}")
        self.pid, self.status = pid, status


class Silent(RuntimeError):
    """No chunk came back for SILENCE seconds."""


@dataclass
class _Worker:
    pid: int
    fd: int
    buffer: bytes = b""
    done: bool = False  # its pipe closed
    reaped: bool = False  # waited for: its pid may belong to another process now


def predict(
    run: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    width: int,
    workers: int,
    chunk: int,
    silence: float = SILENCE,
) -> Iterator[tuple[int, np.ndarray]]:
    """(first index, outputs of x[first : first + chunk]) in input order, `run` (e.g. hls_model.predict) called on
    every core. Closing the iterator (or an exception in the caller's loop) kills the workers at once."""
    starts = list(range(0, len(x), chunk))
    workers = max(1, min(workers, len(starts)))  # one worker too is forked: bounded, and a crash stays in it
    pool = _fork(run, x, starts, chunk, workers)
    try:
        yield from _collect(pool, starts, width, silence)
    finally:
        _kill(pool)


def _fork(run, x: np.ndarray, starts: list[int], chunk: int, count: int) -> list[_Worker]:
    pool: list[_Worker] = []
    group = 0
    try:
        for index in range(count):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_end)
                _child(run, x, starts[index::count], chunk, write_end, group)
            os.close(write_end)
            group = group or pid
            _join(pid, group)
            pool.append(_Worker(pid, read_end))
    except BaseException:
        _kill(pool)
        raise
    return pool


def _join(pid: int, group: int) -> None:
    """The worker into the group of the first one (done in both processes: whichever comes first wins)."""
    with contextlib.suppress(PermissionError, ProcessLookupError):  # the other side did it first, or it died
        os.setpgid(pid, group)


def _child(run, x: np.ndarray, starts: list[int], chunk: int, fd: int, group: int) -> None:
    """A worker: its chunks, in order, each as a header and the raw outputs; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it kills the group on Ctrl-C
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _join(0, group)
        _die_with_parent()
        for first in starts:
            out = np.ascontiguousarray(run(np.ascontiguousarray(x[first : first + chunk])), dtype=np.float64)
            data = out.tobytes()
            _write_all(fd, HEADER.pack(first, len(data)) + data)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the parent's kill is the only way out
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _collect(pool: list[_Worker], starts: list[int], width: int, silence: float) -> Iterator[tuple[int, np.ndarray]]:
    ready: dict[int, np.ndarray] = {}
    deadline = time.monotonic() + silence
    for first in starts:
        while first not in ready:
            open_fds = {w.fd: w for w in pool if not w.done}
            if not open_fds:
                raise WorkerDied(pool[0].pid, "ended without handing back every chunk")
            left = deadline - time.monotonic()
            if left <= 0:
                raise Silent(f"no C simulation output for {silence:.0f} s")
            readable, _, _ = select.select(list(open_fds), [], [], min(left, 1.0))
            for fd in readable:
                got = _read(open_fds[fd], width)
                if got:
                    ready.update(got)
                    deadline = time.monotonic() + silence
        yield first, ready.pop(first)


def _read(worker: _Worker, width: int) -> dict[int, np.ndarray]:
    """The chunks complete in what the worker's pipe holds now; a closed pipe with chunks missing is a death."""
    data = os.read(worker.fd, 1 << 20)
    if not data:
        worker.done = True
        status = _status(worker)
        if status != "exited with status 0":
            raise WorkerDied(worker.pid, status)
        return {}
    worker.buffer += data
    found = {}
    while len(worker.buffer) >= HEADER.size:
        first, size = HEADER.unpack_from(worker.buffer)
        if len(worker.buffer) < HEADER.size + size:
            break
        body = worker.buffer[HEADER.size : HEADER.size + size]
        found[first] = np.frombuffer(body, dtype=np.float64).reshape(-1, width)
        worker.buffer = worker.buffer[HEADER.size + size :]
    return found


def _status(worker: _Worker) -> str:
    """How a worker whose pipe closed ended (waits for it: it has closed its only pipe, so it is ending)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        done, status = os.waitpid(worker.pid, os.WNOHANG)
        if done:
            worker.reaped = True
            if os.WIFSIGNALED(status):
                return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
            return f"exited with status {os.WEXITSTATUS(status)}"
        time.sleep(0.01)
    return "closed its output and did not end"


def _kill(pool: list[_Worker]) -> None:
    """SIGKILL the group (and each worker, in case one never joined it), close the pipes, reap every worker.
    The group's id stays valid while any member is unreaped, so the kill never reaches another process."""
    alive = [w for w in pool if not w.reaped]
    if alive:
        _signal(os.killpg, pool[0].pid)
    for worker in alive:
        _signal(os.kill, worker.pid)
    for worker in pool:
        with contextlib.suppress(OSError):
            os.close(worker.fd)
    for worker in alive:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(worker.pid, 0)  # SIGKILL cannot be blocked or ignored: this returns at once
        worker.reaped = True


def _signal(send: Callable[[int, int], None], target: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        send(target, signal.SIGKILL)
