"""Flows: the pydantic model of a flow and its file formats (TOML, hls4ml YAML)."""
