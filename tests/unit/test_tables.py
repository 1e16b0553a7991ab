"""Tables in a log or a pipe keep every name and type whole; in a narrow terminal they fit its width."""

import io

from rich.console import Console

from hlsbox.cli.views import show_layers
from hlsbox.core.contract import ConvertResult

LAYERS = {
    "step": "convert",
    "project_dir": "prj",
    "plot": None,
    "parameters": 1,
    "hls_config": {},
    "columns": {"types": ["accum", "weight", "bias"], "settings": ["strategy", "conv_implementation"]},
    "layers": [
        {
            "name": f"stage{i}_residual_projection_conv2d_{i}",
            "class": "PointwiseConv2D",
            "output_shape": [32, 32, 28],
            "result_precision": "ap_fixed<16,6,AP_RND_CONV,AP_SAT>",
            "precisions": {name: f"ap_fixed<{18 + i},8,AP_RND,AP_SAT>" for name in ("accum", "weight", "bias")},
            "reuse_asked": 28,
            "reuse_used": 28,
            "strategy": "resource",
            "conv_implementation": "LineBuffer",
        }
        for i in range(3)
    ],
}


def _printed(console: Console) -> str:
    show_layers(console, ConvertResult.from_dict(LAYERS), "hls4ml layers")
    return console.file.getvalue()


def test_a_pipe_gets_whole_names_and_types():
    text = _printed(Console(file=io.StringIO(), width=120, highlight=False))
    for row in LAYERS["layers"]:
        assert row["name"] in text
        assert all(t in text for t in row["precisions"].values())
    assert "ap_fixed<16,6,AP_RND_CONV,AP_SAT>" in text
    assert "…" not in text


def test_a_narrow_terminal_gets_a_table_of_its_width():
    text = _printed(Console(file=io.StringIO(), width=100, force_terminal=True, highlight=False, color_system=None))
    assert max(len(line) for line in text.splitlines()) <= 100
