"""hlsbox: Keras -> hls4ml -> FPGA firmware, in a pinned container, under limits.

This package is imported both on the host (CLI) and inside the image (``hlsbox.steps``), so this
module must stay free of third-party imports.
"""

__version__ = "0.1.0"
