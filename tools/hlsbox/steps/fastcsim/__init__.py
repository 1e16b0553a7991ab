"""Fast, exact C simulation of io_parallel CNNs (hls4ml 1.3.0, Vivado backend).

hls4ml writes each io_parallel convolution's im2col as explicit element copies (fill_buffer_N classes in
nnet_code_gen.h: 14 MB for the seed's Mini-ResNet), which g++ compiles for ~15 minutes at ~7 GB. For the C build
only, `fast_compile` replaces each class by one loop template of the same mapping, after proving the mapping
element by element (recognise) and checking the C++ template against the generated copies (verify); it then
builds exactly as hls4ml's build_lib.sh does. Anything unrecognised (another hls4ml version's format) falls back to
hls4ml's own build. Standard library only: it runs in the image beside hls4ml.
"""

from hlsbox.steps.fastcsim.build import BuildFailed, attach, build, fast_compile, patch_compile
from hlsbox.steps.fastcsim.recognise import FillBufferClass, Unrecognised, recognise, unrecognised
from hlsbox.steps.fastcsim.split import CompileTimeout
from hlsbox.steps.fastcsim.tree import make_fast_tree
from hlsbox.steps.fastcsim.verify import verify_cxx

__all__ = [
    "BuildFailed",
    "CompileTimeout",
    "FillBufferClass",
    "Unrecognised",
    "attach",
    "build",
    "fast_compile",
    "make_fast_tree",
    "patch_compile",
    "recognise",
    "unrecognised",
    "verify_cxx",
]
