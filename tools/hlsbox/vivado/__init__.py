"""The host's Vivado HLS: finding it, reading its log, the Vivado step chain, its reports."""
