"""What runs inside the image: `python -m hlsbox.steps <step> --spec spec.json`.

Only the standard library, numpy, TensorFlow and hls4ml may be imported here (the image has no
typer, rich, docker or pydantic). The host talks to a step through three files in its run dir:
spec.json (in), result.json (out) and, on a user error, error.json; and through marker lines on
stdout: `@@hlsbox phase <name>`.
"""
