"""The ``accord`` command line (Typer + rich). Commands parse options and call the layers below."""
