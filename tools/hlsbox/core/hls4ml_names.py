"""hls4ml 1.3.0's names for what a config sets per layer, and its rules about them (which table wins for a layer,
which layers' ReuseFactor it may move): used on the host (flow validation, the plan) and in the image (building the
config), so this module stays free of third-party imports. tests/integration/test_flow.py checks both lists of
names against hls4ml itself."""

from __future__ import annotations

from hlsbox.core.contract.flow import ImageFlow
from hlsbox.core.contract.layers import LayerRow

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

# hls4ml's layer classes with weights whose ReuseFactor it may move from the one asked for.
WEIGHTED = ("Dense", "Conv1D", "Conv2D", "PointwiseConv1D", "PointwiseConv2D", "DepthwiseConv1D", "DepthwiseConv2D")


def table_entry(table: dict) -> dict:
    """A flow's [layers.X] / [layer_types.X] table (validated, as a dict) as an hls4ml config entry."""
    entry: dict = {"Precision": dict(table["precision"])} if table.get("precision") else {}
    entry.update({LAYER_KEYS[k]: v for k, v in table.items() if k != "precision" and v is not None})
    return entry


def layer_tables(flow: ImageFlow, layer: str, layer_class: str) -> dict:
    """What the flow's tables set for one layer, per key: its own `[layers.X]`, else its class's
    `[layer_types.X]` (hls4ml's precedence, the one place this project writes it); precision per type variable."""
    settings: dict = {}
    precision: dict[str, str] = {}
    for table in (flow.layer_types.get(layer_class), flow.layers.get(layer)):  # the layer's own table wins
        values = table.set_values() if table is not None else {}
        precision.update(values.pop("precision", {}))
        settings.update(values)
    return {**settings, "precision": precision} if precision else settings


def reuse_adjusted(row: LayerRow) -> bool:
    """hls4ml moved the ReuseFactor asked for to another one (its rule for valid values)."""
    return row.reuse_used is not None and row.reuse_asked != row.reuse_used and row.layer_class in WEIGHTED
