"""One `pysr train` step (forward, L1 loss, backward, Adam) on the CPU, in ONE run: the memory layout and the
precision `pysr/train/loop.py` can use, on the torch twins of the trained architectures.

    python bench/train_step.py [--archs espcn fedsr] [--threads 1] [--batch 16] [--patch 24] [--repeat 15]

Modes: `fp32` (torch's default NCHW layout), `fp32 channels-last` (what `pysr train` runs by default for the
conv nets), `bf16 autocast` (NCHW) and `bf16 channels-last` (`pysr train --precision bf16`). Every mode steps its
own copy of the same initial weights on the same batches. Timing: modes interleaved round by round
(bench/espcn_cpu.py `interleaved_ms`), median of --repeat rounds. The floor is a step's FLOPs (3 × the forward's
2·MACs: forward, input gradient, weight gradient) ÷ the FP32 peak measured in this run (2048² sgemm) on the same
threads; bf16 can pass that floor (AVX-512 BF16 dot products do twice the FP32 rate).
"""

from __future__ import annotations

import argparse
import os
import sys

ARGS = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ARGS.add_argument("--archs", nargs="+", default=["espcn", "fedsr"], choices=["espcn", "fedsr"])
ARGS.add_argument("--threads", type=int, default=1)
ARGS.add_argument("--batch", type=int, default=16)
ARGS.add_argument("--patch", type=int, default=24)
ARGS.add_argument("--scale", type=int, default=4)
ARGS.add_argument("--repeat", type=int, default=15)


def macs_per_lr_pixel(arch: str, cfg) -> int:
    from pysr.models import fedsr

    if arch == "fedsr":
        return fedsr.macs_per_lr_pixel(cfg)
    widths = [cfg.in_channels, *cfg.channels, cfg.in_channels * cfg.scale**2]       # ESPCN: convs at LR only
    return sum(k * k * a * b for k, a, b in zip(cfg.kernels, widths, widths[1:]))


def stepper(torch, net, x, y, channels_last: bool, bf16: bool):
    """A closure running one training step of `net` (its own Adam) in the given layout and precision."""
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), 1e-4)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = net(x)
        loss = torch.nn.functional.l1_loss(out.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> int:
    args = ARGS.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import copy

    import torch
    from espcn_cpu import cpu_name, interleaved_ms, peak_gflops

    from pysr.train.torch_models import build, torch_architecture

    torch.set_num_threads(args.threads)
    peak = peak_gflops()
    print(f"{cpu_name()}, torch {torch.__version__}, {args.threads} thread(s), FP32 peak {peak:.0f} GFLOP/s "
          f"(sgemm), load average {os.getloadavg()[0]:.2f}")
    print(f"batch {args.batch} LR patches {args.patch}² at ×{args.scale}, median of {args.repeat} interleaved rounds\n")
    print("| model | mode | ms / step | steps/s | vs fp32 | GFLOP/s | floor ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for arch in args.archs:
        torch.manual_seed(0)
        cfg = torch_architecture(arch).config(args.scale, None, 1)
        net = build(arch, cfg)
        x = torch.rand(args.batch, 1, args.patch, args.patch)
        y = torch.rand(args.batch, 1, args.patch * args.scale, args.patch * args.scale)
        modes = {"fp32": (False, False), "fp32 channels-last": (True, False), "bf16 autocast": (False, True),
                 "bf16 channels-last": (True, True)}
        steps = {m: stepper(torch, copy.deepcopy(net), x, y, *flags) for m, flags in modes.items()}
        ms = interleaved_ms(steps, args.repeat)
        flops = 3 * 2 * macs_per_lr_pixel(arch, cfg) * args.batch * args.patch**2
        for mode, t in ms.items():
            print(f"| {arch} ×{args.scale} | {mode} | {t:.1f} | {1e3 / t:.1f} | {ms['fp32'] / t:.2f}× | "
                  f"{flops / t / 1e6:.0f} | {flops / (peak * 1e9) * 1e3:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
