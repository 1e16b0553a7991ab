"""The command line: the typer app, its shared options and the views of results."""
