"""Subcommands of the `pysr` command line that live in their own module.

Each module here defines `register(sub)`: it adds its parser(s) to the argparse sub-parsers `sub` and sets
`func` (called with the parsed args; raise a PysrError for anything the user can cause). pysr/cli.py
registers every module named in MODULES that imports.
"""

import argparse

MODULES = ("upscale", "eval", "train", "serve", "push", "webrtc")


def key_value(text: str) -> tuple[str, str]:
    """argparse type of a repeatable KEY=VALUE option (an encoder's or an input format's): (key, value)."""
    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value
