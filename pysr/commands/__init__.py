"""Subcommands of the `pysr` command line that live in their own module.

Each module here defines `register(sub)`: it adds its parser(s) to the argparse sub-parsers `sub` and sets
`func` (called with the parsed args; raise a PysrError for anything the user can cause). pysr/cli.py
registers every module named in MODULES that imports.
"""

MODULES = ("upscale", "eval", "train", "serve", "push", "webrtc")
