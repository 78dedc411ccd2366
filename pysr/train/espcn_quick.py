"""Train an ESPCN on the Y channel with PyTorch (the `train` extra) and export a .pysr the engine loads.

    python -m pysr.train.espcn_quick --data ../shared/data/train/T91 ../shared/data/train/B100 \
        --scale 4 --channels 64 32 --steps 20000 -o weights/espcn_x4.pysr

LR patches are made on the fly with antialiased bicubic (a = -0.5, the MATLAB kernel) from random HR
crops, with random flips and 90° rotations. L1 loss, Adam, cosine schedule. Evaluation sets (Set5,
Set14, Vid4) are never read here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def load_y_images(folders: list[str]) -> list[np.ndarray]:
    from PIL import Image

    images = []
    for folder in folders:
        for path in sorted(Path(folder).glob("*")):
            if path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp"):
                continue
            rgb = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255
            y = 16 / 255 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255
            images.append(y.astype(np.float32))
    if not images:
        raise SystemExit(f"no images found in {folders}")
    return images


def main(argv=None) -> None:
    import torch
    import torch.nn.functional as F

    from pysr.model import Model
    from pysr.models import espcn
    from pysr.models.convert import facts_for

    p = argparse.ArgumentParser()
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--channels", type=int, nargs="+", default=[64, 32])
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--patch", type=int, default=24, help="LR patch size")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    s, ps = args.scale, args.patch
    images = [im for im in load_y_images(args.data) if min(im.shape) >= ps * s]
    cfg = espcn.EspcnConfig(scale=s, channels=tuple(args.channels), kernels=(5,) + (3,) * len(args.channels))
    layers = []
    for i, (cin, cout, k) in enumerate(cfg.widths()):
        layers.append(torch.nn.Conv2d(cin, cout, k, padding=k // 2))
        if i < len(cfg.widths()) - 1:
            layers.append(torch.nn.Tanh())
    net = torch.nn.Sequential(*layers, torch.nn.PixelShuffle(s))
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    t0 = time.time()
    for step in range(1, args.steps + 1):
        hr = np.empty((args.batch, 1, ps * s, ps * s), np.float32)
        for b in range(args.batch):
            im = images[rng.integers(len(images))]
            y0, x0 = rng.integers(0, im.shape[0] - ps * s + 1), rng.integers(0, im.shape[1] - ps * s + 1)
            crop = np.rot90(im[y0 : y0 + ps * s, x0 : x0 + ps * s], rng.integers(4))
            hr[b, 0] = crop[:, ::-1] if rng.integers(2) else crop
        hr_t = torch.from_numpy(hr)
        lr_t = F.interpolate(hr_t, scale_factor=1 / s, mode="bicubic", antialias=True, align_corners=False)
        loss = F.l1_loss(net(lr_t), hr_t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0 or step == args.steps:
            print(f"step {step}/{args.steps} loss {loss.item():.5f} {time.time() - t0:.0f}s", flush=True)
    convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
    params = {}
    for i, conv in enumerate(convs):
        params[f"conv{i + 1}.weight"] = conv.weight.detach().numpy().copy()
        params[f"conv{i + 1}.bias"] = conv.bias.detach().numpy().copy()
    provenance = {"data": [Path(d).name for d in args.data], "steps": args.steps, "seconds": round(time.time() - t0),
                  "command": "python -m pysr.train.espcn_quick " + " ".join(argv or [])}
    model = Model(espcn.build(cfg, params), facts_for("espcn", cfg, provenance, "MIT", f"espcn_x{s}"))
    model.save(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
