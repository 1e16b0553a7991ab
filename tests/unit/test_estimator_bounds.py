"""Each part of what hls4ml 1.3 generates, costed from its structure, within physical bounds: FIFOs by depth and
width (a shallow one is a shift register: about a LUT per bit; a deep one block RAM), line buffers, BatchNorm and
other scale layers (at most one multiplier per channel in a stream: nnet_batchnorm_stream.h), pooling (a global
one keeps an accumulator per channel in a stream), padding, merges and transposes; and the rows of an estimate
(layers, memories, the top's own) add up to its totals."""

import math

import pytest

from hlsbox.core.contract import layer_rows
from hlsbox.core.estimator import Design, bram18_for, estimate_design, estimate_layer
from hlsbox.core.parts import resolve_device

Z010 = resolve_device("xc7z010clg400-1")


def design(rows: list[dict], io_type: str = "io_stream", tool: str = "vivado_hls") -> Design:
    return Design(layer_rows(rows), io_type, Z010, "xc7z010clg400-1", tool)


def row(name, cls, shape, bits=16, **extra) -> dict:
    return {
        "name": name,
        "class": cls,
        "output_shape": list(shape),
        "outputs": math.prod(shape),
        "result_bits": bits,
        "input_bits": bits,
        **extra,
    }


def chain(middle: dict, channels: int, hw: int = 28, bits: int = 16) -> list[dict]:
    """input -> middle -> a ReLU (the model's output port): the middle layer's output is the one FIFO."""
    first = row("input", "InputLayer", (hw, hw, channels), bits)
    last = row("last", "Activation", (hw, hw, channels), bits, activation="relu", input_shape=[hw, hw, channels])
    return [first, middle, last]


def memory_lut(estimate, layer_names) -> int:
    """What the estimate spends beyond the layers' own rows: the FIFOs and buffers between them."""
    return estimate.totals["LUT"] - sum(e.lut for e in estimate.layers if e.name in layer_names)


@pytest.mark.parametrize("channels", [1, 16, 64])
def test_a_2_deep_fifo_is_a_shift_register_of_its_width(channels):
    """A 2-deep FIFO of w bits: w SRL LUTs and a few of control per FIFO (hls4ml's fixture: five 2-deep 16-bit
    FIFOs, 140 LUT in the csynth FIFO row), never thousands: at most 2 LUTs a bit."""
    relu = row("relu", "Activation", (28, 28, channels), activation="relu", stream_depth=2)
    rows = chain(relu, channels)
    estimate = estimate_design(design(rows))
    width = channels * 16
    assert 0 < memory_lut(estimate, {r["name"] for r in rows}) <= 2 * width
    fifo = next(e for e in estimate.layers if e.cls == "FIFO")
    assert fifo.bram18 == 0 and fifo.lut <= width + 9 * channels


def test_a_deep_fifo_is_block_ram_not_luts():
    """A 784-deep FIFO per channel (hls4ml's default depth, a 28x28 map) is a BRAM18 each, and its LUTs are its
    control and read-ahead register, not a LUT per stored bit."""
    relu = row("relu", "Activation", (28, 28, 16), activation="relu", stream_depth=784)
    estimate = estimate_design(design(chain(relu, 16)))
    fifo = next(e for e in estimate.layers if e.cls == "FIFO")
    assert fifo.bram18 == 16 * bram18_for(16, 784)
    assert fifo.lut <= 16 * (16 + 32) < 784 * 16 * 16 / 32


def test_a_conv_line_buffer_is_a_row_of_its_shape():
    """conv_2d_cl in io_stream keeps (filt_height - 1) rows of its input per channel (ap_shift_reg of in_width):
    shift registers on a 28-wide map (a LUT per bit per 32 words), BRAM18 on a 64-wide one."""
    for in_width, srl in ((28, True), (64, False)):
        conv = row(
            "conv", "Conv2D", (in_width - 2, in_width - 2, 8), n_in=27, n_out=8, pixels=(in_width - 2) ** 2,
            n_chan=3, filt_height=3, filt_width=3, in_height=in_width, in_width=in_width, strategy="resource",
            reuse_used=27, weight_bits=16, stream_depth=2,
        )  # fmt: skip
        estimate = estimate_design(design(chain(conv, 8, in_width - 2)))
        buffer = next(e for e in estimate.layers if e.cls == "LineBuffer")
        if srl:
            assert buffer.bram18 == 0 and buffer.lut == 2 * 3 * 16 * math.ceil(in_width / 32)
        else:
            assert buffer.bram18 == 2 * 3 * bram18_for(16, in_width) and buffer.lut == 0


def test_a_flatten_before_a_dense_is_no_fifo_and_its_vector_is_gathered_by_the_dense():
    """hls4ml's io_stream Flatten is an in-place variable (no stream pragma, no function): the Dense reads the
    32-channel stream word by word into data[n_in] (nnet_dense_stream.h DataPrepare). FINN's network: 7x7x32 ->
    1,568 inputs, which the plan charged as a 1,568-channel FIFO and a 1,568-wide stream (255k LUT in all)."""
    pool = row("pool", "Pooling2D", (7, 7, 32), pool_height=2, pool_width=2, stream_depth=2)
    flatten = row("flatten", "Reshape", (1568,), input_shape=[7, 7, 32])
    dense = row(
        "dense", "Dense", (10,), n_in=1568, n_out=10, pixels=1, strategy="resource", reuse_used=15680,
        weight_bits=4, input_shape=[1568], stream_depth=1,
    )  # fmt: skip
    rows = [row("input", "InputLayer", (14, 14, 32)), pool, flatten, dense, row("out", "Activation", (10,))]
    estimate = estimate_design(design(rows))
    assert not [e for e in estimate.layers if e.name.startswith("flatten ")]  # no FIFO of its own
    gathered = 1568 * 16
    assert next(e for e in estimate.layers if e.name == "flatten").lut == 0
    alone = estimate_design(design([rows[0], pool, dense, rows[-1]]))
    extra = estimate.totals["LUT"] - alone.totals["LUT"]
    assert 0 < extra <= gathered  # at most a write enable per gathered bit


def batchnorm(cls: str, channels: int, per_element: bool, hw: int = 28) -> dict:
    elements = hw * hw * channels
    total = elements if per_element else channels
    stats = {"total": total, "zero": 0, "pow2": 0, "odd_bits_hist": {"9": total}}  # wide constants: DSPs
    return row(
        "bn", cls, (hw, hw, channels), elementwise_multiplies=elements, weight_bits=16, weights=stats,
        reuse_used=1, input_shape=[hw, hw, channels],
    )  # fmt: skip


@pytest.mark.parametrize("cls", ["BatchNormalization", "ApplyAlpha"])
@pytest.mark.parametrize("per_element", [False, True])
def test_a_streamed_scale_layer_has_at_most_a_multiplier_per_channel(cls, per_element):
    """nnet_batchnorm_stream.h: a pixel per cycle, its channels unrolled: DSP <= channels (the issue: 944 and
    26,419 per layer), whether its scale is per channel (Keras) or per element (a QONNX scale)."""
    layer = estimate_layer(layer_rows([batchnorm(cls, 16, per_element)])[0], design([], "io_stream"))
    assert 0 < layer.dsp <= 16 and layer.multipliers <= 16


@pytest.mark.parametrize("rf", [1, 4, 49])
@pytest.mark.parametrize("per_element", [False, True])
def test_an_io_parallel_batchnorm_has_a_multiplier_per_element_shared_by_its_reuse_factor(rf, per_element):
    """nnet_batchnorm.h normalize: PIPELINE II=RF, ALLOCATION mul limit ceil(n_in / RF)."""
    bn = {**batchnorm("BatchNormalization", 4, per_element, hw=7), "reuse_used": rf}
    layer = estimate_layer(layer_rows([bn])[0], design([], "io_parallel"))
    assert layer.dsp <= math.ceil(7 * 7 * 4 / rf)
    assert layer.dsp == math.ceil(7 * 7 * 4 / rf)  # 9-bit odd parts at 16-bit data: each a DSP


def global_pool(keras3: bool, channels: int = 64, hw: int = 8) -> dict:
    extra = {"pool_height": hw, "pool_width": hw} if keras3 else {}
    return row("gap", "GlobalPooling2D", (channels,), input_shape=[hw, hw, channels], **extra)


@pytest.mark.parametrize("keras3", [False, True])
def test_a_streamed_global_pooling_is_an_accumulator_per_channel(keras3):
    """Keras 3's GlobalAveragePooling2D arrives with the whole map as its window (hls4ml's keras_v3 pooling
    handler), Keras 2's without: the same hls4ml global_pooling2d_cl, one accumulator per channel in a stream
    (the issue: 63,286 LUT against 1,758)."""
    layer = estimate_layer(layer_rows([global_pool(keras3)])[0], design([], "io_stream"))
    assert 0 < layer.lut <= 64 * 16 * 3
    other = estimate_layer(layer_rows([global_pool(not keras3)])[0], design([], "io_stream"))
    assert (layer.lut, layer.ff) == (other.lut, other.ff)


def test_an_io_parallel_global_pooling_reduces_the_whole_map_whichever_keras_wrote_it():
    """io_parallel global_pooling2d_cl is one pipelined function: channels x (pixels - 1) adders, from either
    Keras; at most a few LUTs per bit of each."""
    keras2, keras3 = (estimate_layer(layer_rows([global_pool(k)])[0], design([], "io_parallel")) for k in (0, 1))
    assert keras2.lut == keras3.lut
    assert 64 * 63 * 16 <= keras2.lut <= 64 * 63 * 16 * 3


def test_padding_is_wires_in_io_parallel_and_a_mux_per_channel_in_a_stream():
    pad = row("pad", "ZeroPadding2D", (30, 30, 3), input_shape=[28, 28, 3])
    assert estimate_layer(layer_rows([pad])[0], design([], "io_parallel")).lut == 0
    assert 0 < estimate_layer(layer_rows([pad])[0], design([], "io_stream")).lut <= 3 * 16 * 3


@pytest.mark.parametrize(("io_type", "adders"), [("io_parallel", 28 * 28 * 16), ("io_stream", 16)])
def test_an_add_is_an_adder_per_element_or_per_channel_of_a_pixel(io_type, adders):
    add = row("add", "Add", (28, 28, 16), inputs=2, input_shape=[28, 28, 16])
    assert 0 < estimate_layer(layer_rows([add])[0], design([], io_type)).lut <= adders * 16 * 3


def test_a_streamed_transpose_buffers_its_map():
    """nnet_transpose_stream.h reads the whole map into data_array before it writes: a buffer of the map."""
    transpose = row("t", "Transpose", (16, 28, 28), input_shape=[28, 28, 16], stream_depth=2)
    estimate = estimate_design(design(chain(transpose, 28)))
    buffer = next(e for e in estimate.layers if e.name == "t buffer")
    assert buffer.bram18 == bram18_for(16, 28 * 28 * 16)


@pytest.mark.parametrize("io_type", ["io_stream", "io_parallel"])
@pytest.mark.parametrize("tool", ["vivado_hls", "vitis_hls"])
def test_the_rows_add_up_to_the_totals(io_type, tool):
    conv = row(
        "conv", "Conv2D", (26, 26, 8), n_in=27, n_out=8, pixels=26 * 26, n_partitions=26 * 26, n_chan=3,
        filt_height=3, filt_width=3, in_height=28, in_width=28, strategy="resource", reuse_used=27, weight_bits=16,
        stream_depth=676,
    )  # fmt: skip
    rows = [row("input", "InputLayer", (28, 28, 3)), conv, batchnorm("BatchNormalization", 8, False, hw=26)]
    rows.append(row("pool", "MaxPooling2D", (13, 13, 8), pool_height=2, pool_width=2, in_width=26, stream_depth=169))
    rows.append(global_pool(True, 8, 13))
    estimate = estimate_design(design(rows, io_type, tool))
    for resource in ("LUT", "FF", "BRAM_18K", "DSP"):
        assert sum(e.resources()[resource] for e in estimate.layers) == estimate.totals[resource]
