"""The ReuseFactors hls4ml 1.3.0's kernels accept, and the C-simulation aborts they cause, in words.

hls4ml's own rule (FPGABackend._validate_reuse_factor) accepts ReuseFactors that some Vivado kernels then
assert on at run time (templates/vivado/nnet_utils):
- io_parallel Conv1D/Conv2D (and 1x1 pointwise) under the Resource strategy run conv_{1,2}d_resource_cl, which
  asserts RF <= filt_height * filt_width * n_chan ("This function is correct only for RF <= ..."): the seed's
  stage2_proj, a 1x1 conv over 16 channels at RF 32.
- io_parallel DepthwiseConv1D/2D under the Resource strategy assert unconditionally (not supported).
- dense_resource (Dense, and the io_stream convolutions) dispatches on RF and asserts nothing hls4ml's rule lets
  through.
Used on the host by the plan (before anything is built) and in the image by csim (to explain an abort), so it
stays free of third-party imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONV_RESOURCE = ("Conv1D", "Conv2D", "PointwiseConv1D", "PointwiseConv2D")
DEPTHWISE = ("DepthwiseConv1D", "DepthwiseConv2D")


@dataclass(frozen=True)
class KernelProblem:
    layer: str
    kernel: str  # the nnet:: function that asserts
    condition: str  # the failed condition, in words
    fix: str

    def sentence(self) -> str:
        return f"{self.layer}: {self.kernel} {self.condition}. Fix: {self.fix}"


def is_resource(strategy: str | None) -> bool:
    return (strategy or "").lower() in ("resource", "resource_unrolled")


def max_reuse(cls: str, io_type: str, strategy: str | None, n_in: int) -> int | None:
    """The largest ReuseFactor the layer's kernel runs correctly with (None: no limit beyond hls4ml's rule)."""
    if io_type == "io_parallel" and is_resource(strategy) and cls in CONV_RESOURCE:
        return n_in
    return None


def problem(name: str, cls: str, io_type: str, strategy: str | None, n_in: int, reuse: int) -> KernelProblem | None:
    """What hls4ml's kernel for this layer will assert on, before anything is built."""
    if io_type != "io_parallel" or not is_resource(strategy):
        return None
    if cls in DEPTHWISE:
        return KernelProblem(
            name,
            f"nnet::depthwise_conv_{cls[-2:].lower()}_cl",
            "does not support the Resource strategy in io_parallel (it asserts as soon as it runs)",
            f'strategy = "Latency" for this layer ([layers.{name}] strategy = "Latency"), or io_stream',
        )
    limit = max_reuse(cls, io_type, strategy, n_in)
    if limit is not None and reuse > limit:
        dims = cls[-2:].lower()
        return KernelProblem(
            name,
            f"nnet::conv_{dims}_resource_cl",
            f"is correct only for a ReuseFactor up to the layer's {n_in} inputs per output "
            f"(filter size x input channels); it has {reuse}, and the kernel asserts rather than compute wrong results",
            f"a ReuseFactor of at most {n_in} for it ([layers.{name}] reuse_factor), or "
            f'strategy = "Latency" for it ([layers.{name}] strategy = "Latency")',
        )
    return None


# glibc's message for a failed assert(): "<prog>: <file>:<line>: <function signature>: Assertion `<cond>' failed."
_ASSERTION = re.compile(r"(?P<file>[\w./-]+\.h):\d+: (?P<signature>.*?): Assertion `(?P<condition>.*)' failed")
_FUNCTION = re.compile(r"nnet::(?P<function>\w+)")
_CONFIG = re.compile(r"CONFIG_T = (?:nnet::)?config(?P<index>\d+)")


@dataclass(frozen=True)
class Abort:
    function: str
    condition: str
    config_index: int | None
    header: str


def parse_abort(stderr: str) -> Abort | None:
    """The failed assertion of a C-simulation library, from what glibc printed."""
    match = _ASSERTION.search(stderr)
    if not match:
        return None
    function = _FUNCTION.search(match.group("signature"))
    config = _CONFIG.search(match.group("signature"))
    return Abort(
        function.group("function") if function else match.group("signature")[:80],
        match.group("condition"),
        int(config.group("index")) if config else None,
        match.group("file").rsplit("/", 1)[-1],
    )
