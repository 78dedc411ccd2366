"""PyTorch ports of EGVSR's generator (FRNet) and of SOF-VSR (TIP): the peers of bench/temporal_cpu.py, and the
SOF-VSR oracle of tests/test_sofvsr.py (tests/test_egvsr.py checks the EGVSR port against upstream's golden
tensors in ../shared/refs).

Both are module trees named as the upstream checkpoints are (= pysr's parameter names), loaded strictly from a pysr
parameter dict, and transcribe upstream's forward passes:
- EGVSR: Thmen/EGVSR `FRNet` (TecoGAN's FNet + SRNet, BD degradation): FNet, the flow reflect-padded at the
  bottom/right to the LR size, `BicubicUpsample` (replicate pad, 4-tap depthwise convs per phase, interleave),
  `backward_warp` (grid_sample, border, align_corners True), TF-order `space_to_depth`, SRNet.
- SOF-VSR: LongguangWang/SOF-VSR `TIP/modules.py` (ResB, CasResB, OFRnet, SRnet, SOFVSR.forward,
  optical_flow_warp); grid_sample's align_corners is passed explicitly (upstream omits it). The base grid is
  made with torch ops in float64, as upstream's numpy does, then cast to float32.
torch is imported inside the functions: the module imports without it.
"""

from __future__ import annotations

import numpy as np


def _load(net, params: dict[str, np.ndarray]):
    """Load pysr's parameters strictly (every tensor, no extra) and freeze them; eval mode."""
    import torch

    net.load_state_dict({k: torch.from_numpy(np.array(v, np.float32)) for k, v in params.items()}, strict=True)
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


# --- EGVSR -------------------------------------------------------------------------------------------------------

def tecogan_kernels(torch, s: int, a: float = -0.75):
    """BicubicUpsample's (s, 4) phase weights: the cubic convolution kernel at t = d/s for phase d."""
    t = torch.arange(s, dtype=torch.float32)[:, None] / s
    return torch.cat([a * t - 2 * a * t**2 + a * t**3, 1 - (a + 3) * t**2 + (a + 2) * t**3,
                      -a * t + (2 * a + 3) * t**2 - (a + 2) * t**3, a * t**2 - a * t**3], 1)


def tecogan_upsample(torch, x, kernels, s: int):
    """EGVSR's BicubicUpsample.forward: replicate pad (1, 2), depthwise 4-tap convs per phase, rows then columns."""
    F = torch.nn.functional
    n, c, h, w = x.shape
    y = F.pad(x, (1, 2, 1, 2), mode="replicate")
    y = F.conv2d(y, kernels.repeat(c, 1).view(c * s, 1, 4, 1), groups=c)                # (n, c·s, h, w + 3)
    y = y.view(n, c, s, h, w + 3).permute(0, 1, 3, 2, 4).reshape(n, c, h * s, w + 3)
    y = F.conv2d(y, kernels.repeat(c, 1).view(c * s, 1, 1, 4), groups=c)                # (n, c·s, h·s, w)
    return y.view(n, c, s, h * s, w).permute(0, 1, 3, 4, 2).reshape(n, c, h * s, w * s)


def egvsr_module(cfg, params: dict[str, np.ndarray]):
    """FRNet for an `EgvsrConfig`. forward(lr, lr_prev, hr_prev) -> (hr, lr_flow, hr_flow, warped): one step of the
    recurrence, as pysr's EGVSR graph (pysr/models/egvsr.py) computes it."""
    import torch
    from torch import nn

    F = nn.functional

    def conv(cin, cout):
        return nn.Conv2d(cin, cout, 3, 1, 1, bias=True)

    def stage(cin, cout, pool):
        layers = [conv(cin, cout), nn.LeakyReLU(0.2), conv(cout, cout), nn.LeakyReLU(0.2)]
        return nn.Sequential(*layers, *([nn.MaxPool2d(2, 2)] if pool else []))

    class FNet(nn.Module):
        def __init__(self, in_nc):
            super().__init__()
            self.encoder1, self.encoder2, self.encoder3 = stage(2 * in_nc, 32, 1), stage(32, 64, 1), stage(64, 128, 1)
            self.decoder1, self.decoder2, self.decoder3 = stage(128, 256, 0), stage(256, 128, 0), stage(128, 64, 0)
            self.flow = nn.Sequential(conv(64, 32), nn.LeakyReLU(0.2), conv(32, 2))

        def forward(self, x1, x2):
            out = self.encoder3(self.encoder2(self.encoder1(torch.cat([x1, x2], dim=1))))
            for dec in (self.decoder1, self.decoder2, self.decoder3):
                out = F.interpolate(dec(out), scale_factor=2, mode="bilinear", align_corners=False)
            return torch.tanh(self.flow(out)) * 24

    class ResidualBlock(nn.Module):
        def __init__(self, nf):
            super().__init__()
            self.conv = nn.Sequential(conv(nf, nf), nn.ReLU(), conv(nf, nf))

        def forward(self, x):
            return x + self.conv(x)

    class SRNet(nn.Module):
        def __init__(self):
            super().__init__()
            c, s = cfg.in_channels, cfg.scale
            self.conv_in = nn.Sequential(conv((s * s + 1) * c, cfg.nf), nn.ReLU())
            self.resblocks = nn.Sequential(*[ResidualBlock(cfg.nf) for _ in range(cfg.nb)])
            self.conv_out = conv(cfg.nf // (s * s), c)

        def forward(self, lr_curr, hr_prev_tran):
            out = self.resblocks(self.conv_in(torch.cat([lr_curr, hr_prev_tran], dim=1)))
            return self.conv_out(F.relu(F.pixel_shuffle(out, cfg.scale)))

    def backward_warp(x, flow):
        n, _, h, w = x.shape
        iu = torch.linspace(-1.0, 1.0, w).view(1, 1, 1, w).expand(n, -1, h, -1)
        iv = torch.linspace(-1.0, 1.0, h).view(1, 1, h, 1).expand(n, -1, -1, w)
        grid = torch.cat([iu, iv], 1)
        flow = torch.cat([flow[:, 0:1] / ((w - 1.0) / 2.0), flow[:, 1:2] / ((h - 1.0) / 2.0)], dim=1)
        return F.grid_sample(x, (grid + flow).permute(0, 2, 3, 1), mode="bilinear", padding_mode="border",
                             align_corners=True)

    def space_to_depth(x, s):
        n, c, h, w = x.shape
        return x.reshape(n, c, h // s, s, w // s, s).permute(0, 3, 5, 1, 2, 4).reshape(n, s * s * c, h // s, w // s)

    class FRNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fnet, self.srnet = FNet(cfg.in_channels), SRNet()
            self.register_buffer("kernels", tecogan_kernels(torch, cfg.scale), persistent=False)

        def forward(self, lr, lr_prev, hr_prev):
            s, (h, w) = cfg.scale, lr.shape[2:]
            lr_flow = self.fnet(lr, lr_prev)
            lr_flow = F.pad(lr_flow, (0, w - w // 8 * 8, 0, h - h // 8 * 8), "reflect")
            hr_flow = s * tecogan_upsample(torch, lr_flow, self.kernels, s)
            warped = backward_warp(hr_prev, hr_flow)
            return self.srnet(lr, space_to_depth(warped, s)), lr_flow, hr_flow, warped

    return _load(FRNet(), params)


# --- SOF-VSR -----------------------------------------------------------------------------------------------------

def sofvsr_module(cfg, params: dict[str, np.ndarray], align_corners: bool | None = None):
    """SOFVSR for a `SofvsrConfig` (align_corners: cfg's unless given). forward(frames (1, 2k+1, H, W)) ->
    (hr (1, 1, sH, sW), flow_l1, flow_l2, flow_l3), each flow (2k, 2, h, w) in neighbour order (the OFRnet batch)."""
    import torch
    from torch import nn

    F = nn.functional
    s, c = cfg.scale, cfg.channels
    align = cfg.align_corners if align_corners is None else align_corners

    def lrelu():
        return nn.LeakyReLU(0.1)

    class ResB(nn.Module):
        def __init__(self, channels):
            super().__init__()
            h = channels // 2
            self.body = nn.Sequential(nn.Conv2d(h, h, 1, 1, 0, bias=False), lrelu(),
                                      nn.Conv2d(h, h, 3, 1, 1, bias=False, groups=h),
                                      nn.Conv2d(h, h, 1, 1, 0, bias=False), lrelu())

        def forward(self, x):
            h = x.shape[1] // 2
            out = torch.cat((x[:, :h], self.body(x[:, h:])), 1)
            b, ch, hh, ww = out.shape                                    # channel_shuffle(out, 2)
            return out.view(b, 2, ch // 2, hh, ww).permute(0, 2, 1, 3, 4).contiguous().view(b, -1, hh, ww)

    class CasResB(nn.Module):
        def __init__(self, n, channels):
            super().__init__()
            self.body = nn.Sequential(*[ResB(channels) for _ in range(n)])

        def forward(self, x):
            return self.body(x)

    def warp(img, flow):
        b, _, h, w = img.shape
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                                indexing="ij")
        grid = torch.stack([xs * 2 / (w - 1) - 1, ys * 2 / (h - 1) - 1])[None].float()
        grid = grid + torch.cat((flow[:, :1] * 31 / (w - 1), flow[:, 1:2] * 31 / (h - 1)), 1)
        return F.grid_sample(img, grid.permute(0, 2, 3, 1), padding_mode="border", align_corners=align)

    def up(x, f):
        return F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=False)

    class OFRnet(nn.Module):
        def __init__(self):
            super().__init__()
            self.RNN1 = nn.Sequential(nn.Conv2d(4, c, 3, 1, 1, bias=False), lrelu(), CasResB(cfg.ofr_blocks, c))
            self.RNN2 = nn.Sequential(nn.Conv2d(c, 2, 3, 1, 1, bias=False))
            self.SR = nn.Sequential(CasResB(cfg.ofr_blocks, c), nn.Conv2d(c, 64 * s * s, 1, 1, 0, bias=False),
                                    nn.PixelShuffle(s), lrelu(), nn.Conv2d(64, 2, 3, 1, 1, bias=False))

        def forward(self, x):
            x_l1 = F.avg_pool2d(x, 2)
            b, _, h, w = x_l1.shape
            flow_l1 = self.RNN2(self.RNN1(torch.cat((x_l1, x_l1.new_zeros(b, 2, h, w)), 1)))
            flow_l1_up = up(flow_l1, 2) * 2
            x_l2 = warp(x[:, :1], flow_l1_up)
            flow_l2 = self.RNN2(self.RNN1(torch.cat((x_l2, x[:, 1:2], flow_l1_up), 1))) + flow_l1_up
            x_l3 = warp(x[:, :1], flow_l2)
            flow_l3 = self.SR(self.RNN1(torch.cat((x_l3, x[:, 1:2], flow_l2), 1))) + up(flow_l2, s) * s
            return flow_l1, flow_l2, flow_l3

    class SOFVSR(nn.Module):
        def __init__(self):
            super().__init__()
            self.OFR = OFRnet()
            self.SR = nn.Module()
            self.SR.body = nn.Sequential(nn.Conv2d(1 + 2 * cfg.radius * s * s, c, 3, 1, 1, bias=False), lrelu(),
                                         CasResB(cfg.sr_blocks, c), nn.Conv2d(c, 64 * s * s, 1, 1, 0, bias=False),
                                         nn.PixelShuffle(s), lrelu(), nn.Conv2d(64, 1, 3, 1, 1, bias=True))

        def forward(self, x):
            n, k = x.shape[1], (x.shape[1] - 1) // 2
            nbs = [t for t in range(n) if t != k]
            flows = self.OFR(torch.cat([torch.cat((x[:, t:t + 1], x[:, k:k + 1]), 1) for t in nbs], 0))
            draft = [x[:, k:k + 1]]
            for j, t in enumerate(nbs):
                for i in range(s * s):
                    draft.append(warp(x[:, t:t + 1], flows[2][j:j + 1, :, i // s::s, i % s::s] / s))
            return (self.SR.body(torch.cat(draft, 1)), *flows)

    return _load(SOFVSR(), params)
