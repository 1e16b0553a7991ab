"""A C simulation that crashes is mapped to the layer and kernel that crashed: in the real image, a library built with
g++ -O3 as csim builds (an hls4ml-style kernel template instantiated with a layer's config struct, dividing by a
size that is zero, the global pooling's bug on the seed author's 4-bit ResNet) crashes in a forked child with the
crash-site handler installed, and the step's own reading of its stderr names the kernel and the layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_in_image

pytestmark = pytest.mark.integration

SCRIPT = r'''
import ctypes, os, subprocess, tempfile
from pathlib import Path
from hlsbox.core.contract import LayerRow
from hlsbox.steps import crashsite
from hlsbox.steps.csim import explain_crash
from hlsbox.core.contract import ImageFlow

source = Path(tempfile.mkdtemp()) / "lib.cpp"
source.write_text("""
namespace nnet {
template <class CONFIG_T> __attribute__((noinline)) int global_pooling2d_cl(volatile int *data) {
    return CONFIG_T::in_width / (data[0] / CONFIG_T::n_filt);   // 8 / (8 / 56): a division by zero
}
}
struct config75 { static const int in_width = 8; static const int n_filt = 56; };
extern "C" int run(void) { volatile int data[1] = {8}; return nnet::global_pooling2d_cl<config75>(data); }
""")
library = source.with_suffix(".so")
subprocess.run(["g++", "-O3", "-shared", "-fPIC", str(source), "-o", str(library)], check=True, timeout=120)
err = Path(tempfile.mkdtemp()) / "stderr"
pid = os.fork()
if pid == 0:
    fd = os.open(err, os.O_WRONLY | os.O_CREAT)
    os.dup2(fd, 2)
    if os.environ.get("WITH_HANDLER") == "1":
        crashsite.install()
    ctypes.CDLL(str(library)).run()
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("SIGNAL", os.WTERMSIG(status) if os.WIFSIGNALED(status) else None)
layers = [LayerRow(name="GlobalAveragePool_0", layer_class="GlobalPooling2D", index=75)]
flow = ImageFlow.from_dict({"name": "t", "model": "m.onnx", "part": "xc7z020clg400-1", "io_type": "io_stream"})
failure = explain_crash(os.WTERMSIG(status), err.read_text(), flow, layers)
print("MESSAGE", " ".join(str(failure).split()))
'''


@pytest.mark.parametrize("handler", ["1", "0"])
def test_a_crash_names_the_layer_and_the_kernel(engine, workspace: Path, handler: str):
    """With the handler, the message names GlobalAveragePool_0 and nnet::global_pooling2d_cl; without it (the
    negative control: what csim said before) it cannot, and says the backtrace named no kernel."""
    lines = run_in_image(engine, workspace, f"import os\nos.environ['WITH_HANDLER'] = '{handler}'\n" + SCRIPT)
    signal = next(line for line in lines if line.startswith("SIGNAL"))
    message = next(line for line in lines if line.startswith("MESSAGE"))
    assert signal.split()[1] in ("4", "8"), lines  # SIGILL (a trap at -O3) or SIGFPE
    if handler == "1":
        assert "in layer GlobalAveragePool_0 (GlobalPooling2D), in hls4ml's nnet::global_pooling2d_cl" in message
    else:
        assert "GlobalAveragePool_0" not in message and "names no hls4ml kernel" in message
    assert "stack" not in message  # an io_stream flow gets no io_parallel stack advice
