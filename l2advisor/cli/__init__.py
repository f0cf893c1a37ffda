"""The command line: a typer app (`app.py`) and one module per command.

The only layer that prints. May import every other layer; nothing imports it but `__main__`.
"""

from l2advisor.cli.app import app, main

__all__ = ["app", "main"]
