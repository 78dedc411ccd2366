"""conv2d cases: kernels 1/3/5/7 and 1×3 / 3×1, strides 1/2/3, the three pad modes, groups 1/2/depthwise
(with a channel multiplier), with and without bias, every activation, pixel shuffle r = 2, 3, 4 in both
orders, residual with scale ≠ 1, clamp, awkward shapes (7×7, 13×3, 1×1 images, odd channels, batch 2), and
cases sized to reach every path of the CPU kernel (kernels/cpu/conv2d.py: winograd / depthwise / direct /
gemm, including multi-block widths and ragged last tiles)."""

from __future__ import annotations

import numpy as np

from op_cases import Case


def conv(cin, cout, k, hw, n=1, bias=True, id="", groups=1, **attrs):
    kh, kw = (k, k) if isinstance(k, int) else k
    attrs = {"groups": groups, **attrs}
    params = {"weight": (cout, cin // groups, kh, kw)}
    if bias:
        params["bias"] = (cout,)
    if attrs.get("activation") == "prelu":
        params["slope"] = (cout,)
    inputs = [(n, cin, *hw)]
    if attrs.get("residual"):
        r = attrs.get("pixel_shuffle", 0) or 1
        s = attrs.get("stride", 1)
        ph, pw = attrs.get("padding", (0, 0))
        ho, wo = (hw[0] + 2 * ph - kh) // s + 1, (hw[1] + 2 * pw - kw) // s + 1
        inputs.append((n, cout // (r * r), ho * r, wo * r))
    return Case(attrs, inputs, params, id=id)


P1, P2, P3 = (1, 1), (2, 2), (3, 3)

CASES = [
    # kernel sizes, pad modes, strides (gemm path)
    conv(5, 3, 1, (7, 7), id="k1-7x7"),
    conv(3, 5, 3, (13, 3), padding=P1, activation="relu", id="k3-13x3-relu"),
    conv(1, 13, 5, (7, 7), padding=P2, activation="tanh", id="k5-cin1-tanh"),
    conv(3, 4, 7, (13, 11), padding=P3, pad_mode="reflect", id="k7-reflect"),
    conv(5, 6, (1, 3), (9, 8), padding=(0, 1), pad_mode="replicate", id="k1x3-replicate"),
    conv(4, 3, (3, 1), (11, 6), padding=(1, 0), stride=2, bias=False, id="k3x1-s2-nobias"),
    conv(6, 5, 3, (13, 9), n=2, padding=P1, stride=2, id="s2-zeros-b2"),
    conv(5, 7, 3, (13, 10), padding=P1, stride=2, pad_mode="reflect", activation="sigmoid", id="s2-reflect"),
    conv(3, 6, 5, (14, 17), padding=P2, stride=3, pad_mode="replicate", id="s3-replicate"),
    conv(33, 5, 3, (9, 70), padding=P1, stride=2, id="s2-wide-2blocks"),
    conv(64, 16, 5, (6, 131), padding=P2, id="k5-K1600-3blocks"),
    conv(3, 4, 3, (5, 5), padding=(0, 0), id="valid-no-pad"),
    conv(3, 4, 3, (6, 5), padding=(2, 3), id="pad-wider-than-kernel"),
    # groups and depthwise
    conv(6, 4, 3, (7, 9), groups=2, padding=P1, activation="leaky_relu", alpha=0.2, id="groups2-leaky"),
    conv(8, 12, 1, (5, 6), groups=4, id="groups4-k1"),
    conv(13, 13, 3, (7, 7), groups=13, padding=P1, activation="prelu", id="depthwise-prelu"),
    conv(13, 13, 3, (9, 300), groups=13, padding=P1, id="depthwise-wide-2segments"),
    conv(5, 5, 5, (11, 12), groups=5, padding=P2, stride=2, pad_mode="reflect", id="depthwise-s2-reflect"),
    conv(5, 10, 3, (6, 7), n=2, groups=5, padding=P1, pad_mode="replicate", bias=False, id="depthwise-mult2-b2"),
    conv(160, 160, 3, (5, 9), groups=160, padding=P1, activation="relu", id="depthwise-160"),
    # every activation
    conv(5, 6, 3, (7, 7), padding=P1, activation="sigmoid", id="act-sigmoid"),
    conv(5, 6, 3, (7, 7), padding=P1, activation="scaled_tanh", alpha=1.7, id="act-scaled-tanh"),
    conv(5, 6, 3, (7, 7), padding=P1, activation="prelu", id="act-prelu"),
    conv(5, 6, 1, (7, 7), activation="leaky_relu", alpha=0.1, id="act-leaky"),
    # pixel shuffle, residual, clamp
    conv(3, 8, 3, (7, 7), padding=P1, pixel_shuffle=2, id="ps2-pytorch"),
    conv(3, 18, 3, (5, 6), padding=P1, pixel_shuffle=3, ps_order="tf", activation="relu", id="ps3-tf"),
    conv(5, 16, 3, (7, 7), padding=P1, pixel_shuffle=4, id="ps4-pytorch"),
    conv(5, 32, 1, (6, 5), pixel_shuffle=4, ps_order="tf", id="ps4-tf-2ch"),
    conv(3, 4, 3, (5, 6), padding=P1, pixel_shuffle=2, ps_order="tf", id="ps2-tf-1ch"),   # tf = pytorch at 1 channel
    conv(3, 9, 3, (4, 5), padding=P1, pixel_shuffle=3, ps_order="tf", activation="tanh", id="ps3-tf-1ch-tanh"),
    conv(5, 8, 3, (7, 7), padding=P1, pixel_shuffle=2, residual=True, residual_scale=0.5, clamp=[-0.3, 0.4],
         id="ps2-residual-clamp"),
    conv(4, 4, 3, (13, 3), n=2, padding=P1, pad_mode="reflect", residual=True, residual_scale=-1.5, id="residual"),
    conv(4, 6, 3, (7, 7), padding=P1, activation="tanh", clamp=[-0.5, 0.25], id="tanh-clamp"),
    # 1×1 images
    conv(3, 5, 3, (1, 1), padding=P1, id="img1x1-k3"),
    conv(5, 4, 1, (1, 1), n=2, activation="sigmoid", id="img1x1-k1"),
    conv(3, 5, 3, (1, 1), padding=P1, pad_mode="replicate", id="img1x1-replicate"),
    # winograd path (3×3, stride 1, groups 1, Cin ≥ 8), with ragged last tiles and several tile blocks
    conv(64, 32, 3, (37, 53), padding=P1, activation="tanh", id="wino-64-32-tanh"),
    conv(32, 16, 3, (13, 11), padding=P1, pixel_shuffle=4, id="wino-ps4"),
    conv(8, 13, 3, (7, 7), padding=P1, pad_mode="reflect", activation="relu", id="wino-cin8-reflect"),
    conv(9, 12, 3, (10, 6), n=2, padding=P1, pad_mode="replicate", pixel_shuffle=2, ps_order="tf",
         id="wino-replicate-ps2-tf-b2"),
    conv(16, 8, 3, (6, 300), padding=P1, activation="sigmoid", id="wino-wide-2blocks"),
    conv(12, 5, 3, (9, 9), padding=(0, 0), bias=False, id="wino-valid"),
    conv(10, 6, 3, (5, 4), padding=P2, activation="prelu", id="wino-pad2"),
    conv(16, 16, 3, (11, 13), padding=P1, residual=True, residual_scale=0.2, clamp=[-1.0, 1.0], id="wino-residual"),
    conv(8, 4, 3, (1, 1), padding=P1, id="wino-1x1"),
    # winograd + pixel shuffle with residual and clamp (the native kernel stores the r channels of a row interleaved)
    conv(8, 18, 3, (7, 9), padding=P1, pixel_shuffle=3, residual=True, residual_scale=0.5, clamp=[-0.4, 0.4],
         id="wino-ps3-residual-clamp"),
    conv(16, 32, 3, (6, 70), n=2, padding=P1, pixel_shuffle=4, ps_order="tf", activation="prelu",
         id="wino-ps4-tf-prelu-2blocks"),
    conv(16, 72, 3, (7, 9), padding=P1, pixel_shuffle=2, activation="relu", id="wino-ps2-cout72-chunks"),
    conv(16, 3, 3, (9, 10), padding=P1, activation="tanh", id="k3-cout3"),
    # direct path (stride 1, groups 1, Cout ≤ 4): 1, 2 and 4 channels per block (3 padded to 4), blocks inside the
    # row and at both edges, ragged last blocks, the three pad modes, fused epilogues
    conv(9, 1, 3, (7, 600), padding=P1, activation="sigmoid", id="direct-cout1-3blocks"),
    conv(7, 2, 3, (5, 300), padding=P1, pad_mode="reflect", id="direct-cout2-reflect-3blocks"),
    conv(6, 3, 5, (7, 150), padding=P2, pad_mode="replicate", activation="leaky_relu", alpha=0.2,
         id="direct-cout3-k5-replicate"),
    conv(3, 4, 3, (4, 133), n=2, padding=P1, residual=True, residual_scale=0.5, id="direct-cout4-residual-b2"),
    conv(20, 2, 1, (3, 270), bias=False, id="direct-k1"),
    conv(5, 4, 3, (5, 140), padding=P1, pixel_shuffle=2, id="direct-ps2"),
    conv(1, 1, 3, (8, 257), padding=(0, 1), id="direct-cin1-rows-valid"),
    conv(5, 2, (3, 5), (6, 70), padding=(2, 1), id="direct-pad-wider-than-half-kernel"),
]


def torch_reference(attrs, inputs, params):
    import torch  # lazily: the kernel cases must run without torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.asarray(inputs[0], np.float64))
    w = torch.from_numpy(np.asarray(params["weight"], np.float64))
    b = params.get("bias")
    b = None if b is None else torch.from_numpy(np.asarray(b, np.float64))
    ph, pw = attrs["padding"]
    if attrs["pad_mode"] != "zeros" and (ph or pw):
        x = F.pad(x, (pw, pw, ph, ph), mode=attrs["pad_mode"])
        ph = pw = 0
    y = F.conv2d(x, w, b, stride=attrs["stride"], padding=(ph, pw), groups=attrs["groups"])
    kind, alpha = attrs["activation"], attrs["alpha"]
    if kind == "relu":
        y = F.relu(y)
    elif kind == "leaky_relu":
        y = F.leaky_relu(y, alpha)
    elif kind == "prelu":
        y = F.prelu(y, torch.from_numpy(np.asarray(params["slope"], np.float64)))
    elif kind == "tanh":
        y = torch.tanh(y)
    elif kind == "sigmoid":
        y = torch.sigmoid(y)
    elif kind == "scaled_tanh":
        y = alpha * torch.tanh(y)
    r = attrs["pixel_shuffle"]
    if r:
        if attrs["ps_order"] == "pytorch":
            y = F.pixel_shuffle(y, r)
        else:
            n, c, h, wd = y.shape
            c //= r * r
            y = y.reshape(n, r, r, c, h, wd).permute(0, 3, 4, 1, 5, 2).reshape(n, c, h * r, wd * r)
    if attrs["residual"]:
        y = torch.from_numpy(np.asarray(inputs[1], np.float64)) + attrs["residual_scale"] * y
    if attrs["clamp"] is not None:
        y = torch.clamp(y, *attrs["clamp"])
    return [y.numpy()]
