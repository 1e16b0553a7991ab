"""The ReuseFactors hls4ml 1.3.0's kernels accept, the C++ that does not compile and the C-simulation aborts they
cause, in words (the one place this project states these hls4ml bugs).

hls4ml's Conv1D/Conv2D config templates (backends/vivado/passes/convolution_templates.py, 1.2.0 and 1.3.0 alike)
name the mult config's kernel class by the layer's ReuseFactor under the Resource strategy: DenseResource_rf_leq_nin
(RF <= n_in), DenseResource_rf_gt_nin_rem0 (RF a multiple of n_in), else DenseResource_rf_gt_nin, a class its own
nnet_dense.h does not define: that C++ does not compile, in g++ (csim) or Vivado HLS alike. hls4ml's ReuseFactor
rule never gives a plain Conv such a value, but a PointwiseConv (what hls4ml makes of a 1x1 Conv) takes a
ReuseFactor set in its own config entry unchecked: the seed's 1x1 shortcut over 3 channels with an entry of 32.

hls4ml's own rule (FPGABackend._validate_reuse_factor) accepts ReuseFactors that some Vivado kernels then
assert on at run time (templates/vivado/nnet_utils):
- io_parallel Conv1D/Conv2D (and 1x1 pointwise) under the Resource strategy run conv_{1,2}d_resource_cl, which
  asserts RF <= filt_height * filt_width * n_chan ("This function is correct only for RF <= ..."): the seed's
  conv2d_2, a 1x1 conv over 3 channels at the RF 42 hls4ml makes of the Model's 32.
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


UNDEFINED_KERNEL = "DenseResource_rf_gt_nin"  # the class hls4ml names and nnet_dense.h lacks
COMPILE, CSIM = "compile", "csim"  # where a problem shows: the C++ does not compile / C simulation aborts


@dataclass(frozen=True)
class KernelProblem:
    layer: str
    kernel: str  # the nnet:: function that asserts, or the class that does not exist
    condition: str  # the failed condition, in words
    fix: str
    stage: str = CSIM  # COMPILE: no C++ build of the design works (csim, csynth); CSIM: C simulation aborts

    @property
    def consequence(self) -> str:
        if self.stage == COMPILE:
            return "its C++ does not compile (g++ in csim, Vivado HLS in csynth alike)"
        return "C simulation would abort there"


def is_resource(strategy: str | None) -> bool:
    return (strategy or "").lower() in ("resource", "resource_unrolled")


def max_reuse(cls: str, io_type: str, strategy: str | None, n_in: int) -> int | None:
    """The largest ReuseFactor the layer's kernel runs correctly with (None: no limit beyond hls4ml's rule)."""
    if io_type == "io_parallel" and is_resource(strategy) and cls in CONV_RESOURCE:
        return n_in
    return None


def does_not_compile(cls: str, strategy: str | None, n_in: int, reuse: int) -> bool:
    """hls4ml names the undefined DenseResource_rf_gt_nin for this layer (any io_type)."""
    return cls in CONV_RESOURCE and is_resource(strategy) and reuse > n_in and reuse % n_in != 0


def compile_problem(
    name: str, cls: str, strategy: str | None, n_in: int, reuse: int, table: str | None = None
) -> KernelProblem | None:
    if not does_not_compile(cls, strategy, n_in, reuse):
        return None
    return KernelProblem(
        name,
        f"nnet::{UNDEFINED_KERNEL}",
        f"is the kernel class hls4ml names for its ReuseFactor {reuse} (above its {n_in} inputs per output and no "
        "multiple of them), and hls4ml's nnet_dense.h does not define it",
        f"a ReuseFactor of at most {n_in} for it ([layers.{table or name}] reuse_factor = {n_in}), or "
        f'strategy = "Latency" for it ([layers.{table or name}] strategy = "Latency")',
        COMPILE,
    )


def problem(
    name: str, cls: str, io_type: str, strategy: str | None, n_in: int, reuse: int, table: str | None = None
) -> KernelProblem | None:
    """What hls4ml's C++ for this layer will not compile with, or its kernel assert on, before anything is built.
    `table`: the name the flow's [layers.X] takes for the layer, where hls4ml renamed it (LayerRow.flow_name)."""
    if (found := compile_problem(name, cls, strategy, n_in, reuse, table)) is not None:
        return found
    if io_type != "io_parallel" or not is_resource(strategy):
        return None
    if cls in DEPTHWISE:
        return KernelProblem(
            name,
            f"nnet::depthwise_conv_{cls[-2:].lower()}_cl",
            "does not support the Resource strategy in io_parallel (it asserts as soon as it runs)",
            f'strategy = "Latency" for this layer ([layers.{table or name}] strategy = "Latency"), or io_stream',
        )
    limit = max_reuse(cls, io_type, strategy, n_in)
    if limit is not None and reuse > limit:
        dims = cls[-2:].lower()
        return KernelProblem(
            name,
            f"nnet::conv_{dims}_resource_cl",
            f"is correct only for a ReuseFactor up to the layer's {n_in} inputs per output "
            f"(filter size x input channels); it has {reuse}, and the kernel asserts rather than compute wrong results",
            f"a ReuseFactor of at most {n_in} for it ([layers.{table or name}] reuse_factor), or "
            f'strategy = "Latency" for it ([layers.{table or name}] strategy = "Latency")',
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
