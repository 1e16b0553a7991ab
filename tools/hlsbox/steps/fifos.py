"""io_stream FIFO depths (the flow's `fifo_depth`).

hls4ml gives every FIFO between layers the depth of a whole feature map (pixels), the one depth that can never
deadlock: on a 32x32 map that is a BRAM18 per channel, per FIFO. Its own remedy (FifoDepthOptimization) needs RTL
co-simulation. "auto" sizes them from the graph instead:

- In a chain, a FIFO of any depth cannot deadlock (each layer reads one input stream in order): depth SHALLOW,
  a shift register, no BRAM.
- At a fork (hls4ml's Clone) whose branches meet again in a merge (Add, Concatenate, ...), the branch with the
  windowed layers (convolutions, pooling: they read rows ahead before they write) runs behind the others. When
  exactly one branch has windowed layers and the others only element-wise or 1x1 layers (a residual block's
  skip or projection), those others get the whole fork map at their first FIFO, so the fork never waits on them,
  and every other FIFO stays shallow.
- Any other fork (windowed layers on several branches, branches that never meet) keeps hls4ml's depths.
"""

from __future__ import annotations

SHALLOW = 2
# Layers that write one output per input pixel as they read it: no rows read ahead.
ELEMENTWISE = (
    "Activation",
    "ParametrizedActivation",
    "LeakyReLU",
    "PReLU",
    "ThresholdedReLU",
    "ELU",
    "HardActivation",
    "Softmax",
    "BatchNormalization",
    "ApplyAlpha",
    "Quant",
    "Clone",
    "Repack",
)


def is_windowed(layer) -> bool:
    """Reads rows ahead of what it writes: convolutions and pooling with a window taller or wider than 1."""
    if layer.class_name in ELEMENTWISE:
        return False
    get = layer.get_attr
    window = [get(k) for k in ("filt_height", "filt_width", "pool_height", "pool_width") if get(k) is not None]
    if window:
        return any(size > 1 for size in window)
    return layer.class_name not in ("Dense", "PointwiseConv1D", "PointwiseConv2D", "Merge", "Add")


def consumers(hls_model) -> dict[str, list]:
    found: dict[str, list] = {}
    for layer in hls_model.get_layers():
        for name in layer.inputs or ():
            found.setdefault(name, []).append(layer)
    return found


def branch(start: str, users: dict[str, list]) -> tuple[bool, str | None]:
    """Follow a fork's output down its chain to the merge: (any windowed layer on the way, the merge's name)."""
    windowed, name = False, start
    while True:
        following = users.get(name, [])
        if len(following) != 1:
            return windowed, None  # a model output, or another fork: not a simple branch
        layer = following[0]
        if len(layer.inputs) > 1:
            return windowed, layer.name
        if layer.class_name == "Clone":
            return windowed, None
        windowed = windowed or is_windowed(layer)
        name = layer.outputs[0]


def set_fifo_depths(hls_model, setting: str) -> list[dict]:
    """Apply the flow's fifo_depth to the model's stream variables (before write); the FIFOs it set."""
    if setting == "default" or hls_model.config.get_config_value("IOType") != "io_stream":
        return []
    ports = {v.name for v in (*hls_model.get_input_variables(), *hls_model.get_output_variables())}
    deep: dict[str, int] = {}
    kept: set[str] = set()
    users = consumers(hls_model)
    for layer in hls_model.get_layers():
        if layer.class_name != "Clone":
            continue
        fork_pixels = _pixels(layer.get_input_variable())
        branches = {out: branch(out, users) for out in layer.outputs}
        merges = {merge for _, merge in branches.values()}
        slow = [out for out, (windowed, _) in branches.items() if windowed]
        if None in merges or len(merges) != 1 or len(slow) != 1:
            kept.update(layer.outputs)
            continue
        deep.update({out: fork_pixels for out in layer.outputs if out != slow[0]})
    changed = []
    for name, var in hls_model.output_vars.items():
        pragma = getattr(var, "pragma", None)
        if name in ports or name in kept or not (isinstance(pragma, tuple) and pragma[0] == "stream"):
            continue
        depth = deep.get(name, SHALLOW)
        changed.append({"fifo": name, "from": int(pragma[1]), "to": depth})
        var.pragma = ("stream", depth)
    return changed


def _pixels(var) -> int:
    shape = list(var.shape)
    pixels = 1
    for size in shape[:-1]:
        pixels *= int(size)
    return max(pixels, 1)
