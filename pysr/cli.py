"""The `pysr` command line. Errors a user can cause print one line (plus a HINT) and exit 2."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from pysr import commands
from pysr.errors import PysrError


def cmd_import(args) -> None:
    from pysr.models.convert import import_checkpoint

    model = import_checkpoint(args.checkpoint, args.arch, args.layout, args.licence, args.name)
    model.save(args.output)
    print(f"wrote {args.output}: {model!r}")


def cmd_info(args) -> None:
    import pysr

    model = pysr.load(args.model)
    if args.json:
        print(json.dumps(model.facts, indent=1, sort_keys=True))
        return
    f = model.facts
    nparams = sum(v.size for v in model.graph.params.values())
    print(f"{args.model}: {model!r}")
    for key in ("architecture", "scale", "colour", "input_range", "receptive_field", "temporal", "licence"):
        print(f"  {key:16s} {f[key]}")
    print(f"  {'parameters':16s} {nparams}")
    print(f"  {'nodes':16s} {', '.join(n.op for n in model.graph.nodes)}")
    for key, value in f.get("provenance", {}).items():
        print(f"  provenance.{key:5s} {value}")


def cmd_demo(args) -> None:
    from pysr.demo import run_demo

    r = run_demo(args.output, args.backend)
    print(f"{r['model']} on backend {args.backend!r}: {r['lr'][1]}×{r['lr'][0]} → {r['hr'][1]}×{r['hr'][0]} "
          f"in {r['ms']:.1f} ms")
    print(f"Y PSNR vs the original: pysr {r['psnr_pysr']:.2f} dB, bicubic {r['psnr_bicubic']:.2f} dB "
          f"({r['psnr_pysr'] - r['psnr_bicubic']:+.2f} dB)")
    print(f"wrote {r['out']}/lr.png, bicubic.png, pysr.png, psnr.md and bicubic_pysr_original.png (side by side)")


def cmd_models(args) -> None:
    import pysr
    from pysr.model import shipped_models

    for name, path in sorted(shipped_models().items()):
        m = pysr.load(path)
        prov = m.facts.get("provenance", {})
        trained = f"{prov['steps']} steps" if "steps" in prov else prov.get("source", "")
        print(f"{name:16s} {m!r}  licence {m.facts['licence']}  {trained}")


def cmd_backends(args) -> None:
    from pysr import backends

    for name, state in backends.available().items():
        print(f"{name:8s} {state}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pysr", description="real-time video super-resolution")
    sub = p.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="convert a PyTorch checkpoint (read without torch) into a .pysr model")
    imp.add_argument("checkpoint")
    imp.add_argument("--arch", required=True, help="architecture name (espcn)")
    imp.add_argument("--layout", default="auto", help="checkpoint layout (default: detect)")
    imp.add_argument("--licence", default="unknown", help="licence of the weights, recorded in the model")
    imp.add_argument("--name", default=None)
    imp.add_argument("-o", "--output", required=True)
    imp.set_defaults(func=cmd_import)
    info = sub.add_parser("info", help="print a model's facts")
    info.add_argument("model")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=cmd_info)
    demo = sub.add_parser("demo", help="upscale the bundled sample with the shipped ESPCN ×4 and score it")
    demo.add_argument("-o", "--output", default="pysr-demo", help="output folder (default: pysr-demo)")
    demo.add_argument("--backend", default="cpu")
    demo.set_defaults(func=cmd_demo)
    models = sub.add_parser("models", help="list the models shipped with pysr")
    models.set_defaults(func=cmd_models)
    be = sub.add_parser("backends", help="list backends and whether they run here")
    be.set_defaults(func=cmd_backends)
    for name in commands.MODULES:
        try:
            module = importlib.import_module(f"pysr.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"pysr.commands.{name}":
                raise
            continue
        module.register(sub)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except PysrError as err:
        print(f"pysr {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
