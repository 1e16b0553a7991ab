"""What wrote a model file, read on the host without TensorFlow, h5py or onnx (none is a host dependency).

- `.keras`: the zip's metadata.json (`keras_version`);
- `.h5`: the root group's `keras_version` attribute (HDF5 attribute messages, fixed or variable-length strings);
- `.onnx`: the protobuf's nodes (QONNX's `Quant`, `BipolarQuant`, `Trunc` against plain ONNX), opsets, producer.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

QONNX_OPS = ("Quant", "BipolarQuant", "Trunc")
# What FINN's own steps put in a graph in place of Quant nodes and standard layers (its streamlining's thresholds,
# its hardware layers): hls4ml reads none of them. A node of a `finn.*` domain is FINN's too.
FINN_OPS = frozenset(
    {
        "MultiThreshold",
        "MatrixVectorActivation",
        "MVAU",
        "VectorVectorActivation",
        "VVAU",
        "Thresholding",
        "ConvolutionInputGenerator",
        "StreamingMaxPool",
        "StreamingFIFO",
        "StreamingDataWidthConverter",
        "FMPadding",
        "IODMA",
        "StreamingDataflowPartition",
        "LabelSelect",
        "AddStreams",
        "ChannelwiseOp",
        "DuplicateStreams",
        "GlobalAccPool",
        "Im2Col",
        "Lookup",
        "Pool",
        "StreamingConcat",
        "UpsampleNearestNeighbour",
        "XnorPopcountMatMul",
    }
)
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True)
class ModelOrigin:
    """What a model file is: its format ('keras', 'onnx', 'qonnx'), the version that wrote it where known."""

    format: str
    keras_version: str | None = None
    producer: str = ""
    quant_ops: dict[str, int] = field(default_factory=dict)  # QONNX op type -> how many nodes
    finn_ops: dict[str, int] = field(default_factory=dict)  # FINN-internal op type -> how many nodes

    @property
    def keras_major(self) -> int | None:
        match = re.match(r"(\d+)\.", self.keras_version or "")
        return int(match.group(1)) if match else None

    def describe(self) -> str:
        """'saved by Keras 3.10.0', 'a QONNX model (Quant x12) exported by brevitas 0.11', ..."""
        if self.format == "keras":
            return (
                f"saved by Keras {self.keras_version}" if self.keras_version else "a Keras file that names no version"
            )
        by = f" exported by {self.producer}" if self.producer else ""
        if self.format == "qonnx":
            ops = ", ".join(f"{op} x{n}" for op, n in sorted(self.quant_ops.items()))
            return f"a QONNX model ({ops}){by}"
        return f"a plain ONNX model (no QONNX quantisation nodes){by}"


class UnreadableModel(ValueError):
    """The file is not what its name says (the message says what was found)."""


def origin_of(path: Path) -> ModelOrigin:
    """The origin of a .keras, .h5 or .onnx file; UnreadableModel when its contents say nothing of one."""
    data = path.read_bytes()
    if path.suffix.lower() == ".onnx":
        return _onnx_origin(data)
    if data.startswith(HDF5_MAGIC):
        version = h5_string_attribute(data, "keras_version")
        if version is None:
            raise UnreadableModel("an HDF5 file without a keras_version attribute: not a model saved by Keras")
        return ModelOrigin("keras", version)
    if zipfile.is_zipfile(path):
        return ModelOrigin("keras", _zip_keras_version(path))
    raise UnreadableModel("neither a .keras zip, an HDF5 (.h5) nor an ONNX file")


def _zip_keras_version(path: Path) -> str | None:
    with zipfile.ZipFile(path) as archive:
        if "metadata.json" not in archive.namelist():
            return None
        try:
            version = json.loads(archive.read("metadata.json")).get("keras_version")
        except (ValueError, AttributeError):
            return None
    return str(version) if version else None


# ---------- HDF5: one string attribute, from the attribute message that carries its name ----------


def h5_string_attribute(data: bytes, name: str) -> str | None:
    """A scalar string attribute (fixed-length, or variable-length in the global heap, as h5py writes str and
    bytes); None when no attribute message of that name holds a string."""
    key = name.encode() + b"\0"
    pos = data.find(key)
    while pos != -1:
        value = _attribute_value(data, pos, len(key))
        if value is not None:
            return value.decode("utf-8", "replace")
        pos = data.find(key, pos + 1)
    return None


def _u16(data: bytes, at: int) -> int:
    return struct.unpack_from("<H", data, at)[0]


def _pad8(n: int) -> int:
    return (n + 7) // 8 * 8


def _attribute_value(data: bytes, name_at: int, name_size: int) -> bytes | None:
    """The value of the attribute message whose name starts at name_at (message versions 1, 2 and 3)."""
    if name_at >= 8 and data[name_at - 8] == 1 and _u16(data, name_at - 6) == name_size:
        dt_size, ds_size = _u16(data, name_at - 4), _u16(data, name_at - 2)
        dt = name_at + _pad8(name_size)
        value = dt + _pad8(dt_size) + _pad8(ds_size)
    elif name_at >= 9 and data[name_at - 9] == 3 and _u16(data, name_at - 7) == name_size:
        dt_size, ds_size = _u16(data, name_at - 5), _u16(data, name_at - 3)
        dt = name_at + name_size
        value = dt + dt_size + ds_size
    elif name_at >= 8 and data[name_at - 8] == 2 and _u16(data, name_at - 6) == name_size:
        dt_size, ds_size = _u16(data, name_at - 4), _u16(data, name_at - 2)
        dt = name_at + name_size
        value = dt + dt_size + ds_size
    else:
        return None
    try:
        kind, size = data[dt] & 0x0F, struct.unpack_from("<I", data, dt + 4)[0]
        if kind == 3:  # fixed-length string
            return data[value : value + size].rstrip(b"\0 ")
        if kind == 9:  # variable-length: (length, global heap collection address, object index)
            length, address, index = struct.unpack_from("<IQI", data, value)
            return _global_heap_object(data, address, index, length)
    except (struct.error, IndexError):
        return None
    return None


def _global_heap_object(data: bytes, address: int, index: int, length: int) -> bytes | None:
    if data[address : address + 4] != b"GCOL":
        return None
    end = address + struct.unpack_from("<Q", data, address + 8)[0]
    at = address + 16
    while at + 16 <= end:
        number, _refs, _reserved, size = struct.unpack_from("<HHIQ", data, at)
        if number == 0:  # free space
            return None
        if number == index:
            return data[at + 16 : at + 16 + min(length, size)]
        at += 16 + _pad8(size)
    return None


# ---------- ONNX: the protobuf wire format, as far as ModelProto -> graph -> node.op_type ----------


def _fields(data: bytes):
    """(field number, wire type, value) of one protobuf message; bytes for length-delimited fields."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 2:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise UnreadableModel("a truncated protobuf (a field runs past the end of the file)")
            value, at = data[at : at + size], at + size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, at = data[at : at + width], at + width
        else:
            raise UnreadableModel(f"not a protobuf (wire type {wire} at byte {at})")
        yield number, wire, value


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise UnreadableModel("a truncated or foreign file (a protobuf number runs past the end)")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at


def _onnx_origin(data: bytes) -> ModelOrigin:
    producer, version, graph = "", "", None
    for number, wire, value in _fields(data):
        if number == 2 and wire == 2:
            producer = value.decode("utf-8", "replace")
        elif number == 3 and wire == 2:
            version = value.decode("utf-8", "replace")
        elif number == 7 and wire == 2:
            graph = value
    if graph is None:
        raise UnreadableModel("an .onnx file without a graph (truncated, or not an ONNX model)")
    ops: dict[str, int] = {}
    finn: dict[str, int] = {}
    for number, wire, node in _fields(graph):
        if number == 1 and wire == 2:
            fields = [(n, v) for n, w, v in _fields(node) if w == 2 and n in (4, 7)]
            op = next((v.decode("utf-8", "replace") for n, v in fields if n == 4), "")
            domain = next((v.decode("utf-8", "replace") for n, v in fields if n == 7), "")
            if op in QONNX_OPS:
                ops[op] = ops.get(op, 0) + 1
            if op in FINN_OPS or domain.startswith("finn."):
                finn[op] = finn.get(op, 0) + 1
    by = f"{producer} {version}".strip()
    return ModelOrigin("qonnx" if ops else "onnx", producer=by, quant_ops=ops, finn_ops=finn)
