"""hls4ml 1.3.0's names for what a config sets per layer: used on the host (flow validation) and in the image
(building the config), so this module stays free of third-party imports. tests/test_integration_flow.py checks
both lists against hls4ml itself."""

from __future__ import annotations

# Type variables a layer config's "Precision" may set (TypeAttributes of hls4ml's layer classes), and `default`.
PRECISION_NAMES = (
    "default",
    "weight",
    "bias",
    "result",
    "accum",
    "scale",
    "table",
    "exp_table",
    "inv_table",
    "inv_inp",
    "depthwise",
    "depthwise_accum",
    "depthwise_result",
    "pointwise",
    "pointwise_accum",
    "shift",
    "slope",
    "param",
    "embeddings",
    "recurrent_weight",
    "recurrent_bias",
    "forward_weight",
    "forward_bias",
    "forward_recurrent_weight",
    "forward_recurrent_bias",
    "backward_weight",
    "backward_bias",
    "backward_recurrent_weight",
    "backward_recurrent_bias",
)

# A flow's per-layer keys and hls4ml's config names for them (its configurable attributes, and Strategy).
LAYER_KEYS = {
    "reuse_factor": "ReuseFactor",
    "strategy": "Strategy",
    "parallelization_factor": "ParallelizationFactor",
    "conv_implementation": "ConvImplementation",
    "table_size": "TableSize",
    "table_range_power2": "TableRangePower2",
    "implementation": "Implementation",
    "trace": "Trace",
    "skip": "Skip",
    "depthwise_reuse_factor": "DepthwiseReuseFactor",
    "pointwise_reuse_factor": "PointwiseReuseFactor",
    "recurrent_reuse_factor": "RecurrentReuseFactor",
    "forward_reuse_factor": "ForwardReuseFactor",
    "backward_reuse_factor": "BackwardReuseFactor",
    "forward_recurrent_reuse_factor": "ForwardRecurrentReuseFactor",
    "backward_recurrent_reuse_factor": "BackwardRecurrentReuseFactor",
    "static": "Static",
    "direction": "Direction",
    "algorithm": "Algorithm",
    "time_step_loop_parallelism": "TimeStepLoopParallelism",
}
HLS4ML_KEYS = {theirs: ours for ours, theirs in LAYER_KEYS.items()}


def table_entry(table: dict) -> dict:
    """A flow's [layers.X] / [layer_types.X] table (validated, as a dict) as an hls4ml config entry."""
    entry: dict = {"Precision": dict(table["precision"])} if table.get("precision") else {}
    entry.update({LAYER_KEYS[k]: v for k, v in table.items() if k != "precision" and v is not None})
    return entry
