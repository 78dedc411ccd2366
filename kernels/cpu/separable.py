"""Separable resampling, shared by the CPU resize kernels (resize_bilinear, resize_bicubic_torch,
resize_bicubic_matlab, upsample_bicubic_tecogan); not an op itself.

Computes, for per-axis tap tables (ih, wh) of shape (Ho, Ph) and (iw, ww) of shape (Wo, Pw) built by the op's
spec (pysr/ops/<op>.py, `tables`):
    out[n, c, y, x] = Σ_a Σ_b wh[y, a]·ww[x, b]·in[n, c, ih[y, a], iw[x, b]]
as two 1-D passes in float32. The two passes commute in exact arithmetic; the order only moves float32
rounding, which the spec's tolerance (separable.tolerance) bounds for either order.

Two schedules, picked by which intermediate is cheaper:
- enlarging (Ho > H): columns first, on the few input rows, then rows. A job owns a band of output rows of one
  plane: it resamples horizontally the input rows the band reads (per-job scratch of (rows, Wo), in L2), then
  writes each output row as a Ph-row blend of scratch rows, a unit-stride loop that vectorises (ymm FMAs).
  The expensive per-element pass thus runs over Wo-wide contiguous rows; the horizontal pass runs only H
  times per plane (plus Ph − 1 rows of overlap per band).
- otherwise: rows first. A job owns a band of output rows; per output row it blends Ph input rows into a
  W-long scratch row (vectorised), then resamples that row horizontally into the output row.

The horizontal pass: when enlarging by an integer factor r the table is periodic — output r·m + d reads the
virtual input positions m + base + k (k < T) with weights wp[d, k] that depend on the phase d only, and the
borders are a clamped or mirrored copy of the row. compile() detects that (`phases`, which checks that the
periodic form reproduces every tap of the table), each row is padded once into scratch, and a loop whose r and
T are compile-time constants (closure constants: one cached numba specialisation per (r, T)) produces r outputs
per step from T shared loads, with no table lookup per tap. Other tables (align_corners=True, fractional
factors, shrinking) read their taps through the (P, Wo) index/weight tables.
FMA contraction is on (fastmath={"contract"}): one rounding per tap instead of two, no reassociation.

Threads: prange over N·C·bands jobs (bands sized so each job's scratch stays in L2 and both threads get many
jobs); every job allocates its own scratch, so the kernel holds no state between calls.
Layout and traffic: NCHW float32; the input is read ~once (plus band overlap), the output written once.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit, prange

MAX_PERIOD = 8          # longest phase period tried (outputs per period)
MAX_PHASE_TAPS = 12     # widest union of taps per period handled by the unrolled loop
FMA = {"contract"}      # fused multiply-add only; no reassociation
BAND_ROWS = 128         # most output rows per job when enlarging: scratch ≈ (128/scale + Ph) rows of Wo floats
MIN_JOBS = 8            # fewest jobs per call, so a static split over 2 threads stays balanced


# ---------------------------------------------------------------------------------------------- row passes


@njit(cache=True, inline="always", fastmath=FMA)
def _hrow_gather(src, dst, iw_t, ww_t):
    """dst[j] = Σ_k ww_t[k, j]·src[iw_t[k, j]] with (P, Wo) tables (k outer: one gather stream per tap)."""
    p = iw_t.shape[0]
    i0 = iw_t[0]
    w0 = ww_t[0]
    for j in range(dst.size):
        dst[j] = w0[j] * src[i0[j]]
    for k in range(1, p):
        ik = iw_t[k]
        wk = ww_t[k]
        for j in range(dst.size):
            dst[j] += wk[j] * src[ik[j]]


@njit(cache=True, inline="always", fastmath=FMA)
def _vblend(rows, base, ih, wh, y, dst):
    """dst = Σ_a wh[y, a]·rows[ih[y, a] − base]: unit-stride row blends (2 and 4 taps in one pass)."""
    ph = ih.shape[1]
    n = dst.size
    if ph == 4:
        r0 = rows[ih[y, 0] - base]
        r1 = rows[ih[y, 1] - base]
        r2 = rows[ih[y, 2] - base]
        r3 = rows[ih[y, 3] - base]
        w0, w1, w2, w3 = wh[y, 0], wh[y, 1], wh[y, 2], wh[y, 3]
        for i in range(n):
            dst[i] = w0 * r0[i] + w1 * r1[i] + w2 * r2[i] + w3 * r3[i]
    elif ph == 2:
        r0 = rows[ih[y, 0] - base]
        r1 = rows[ih[y, 1] - base]
        w0, w1 = wh[y, 0], wh[y, 1]
        for i in range(n):
            dst[i] = w0 * r0[i] + w1 * r1[i]
    else:
        r0 = rows[ih[y, 0] - base]
        w0 = wh[y, 0]
        for i in range(n):
            dst[i] = w0 * r0[i]
        for a in range(1, ph):
            ra = rows[ih[y, a] - base]
            wa = wh[y, a]
            for i in range(n):
                dst[i] += wa * ra[i]


@njit(cache=True)
def _row_span(ih, y0, y1):
    """Smallest and largest input row read by output rows y0..y1−1."""
    lo = ih[y0, 0]
    hi = ih[y0, 0]
    for y in range(y0, y1):
        for a in range(ih.shape[1]):
            lo = min(lo, ih[y, a])
            hi = max(hi, ih[y, a])
    return lo, hi


# ---------------------------------------------------------------------------------------------- schedules
# A job is one band of `band` output rows of one (n, c) plane; jobs are numbered plane-major.


@njit(inline="always", cache=True)
def _band_job(job, nb, band, ho, c):
    """Job number -> (batch index, channel, first output row, end output row)."""
    plane = job // nb
    y0 = (job - plane * nb) * band
    b = plane // c
    return b, plane - b * c, y0, min(y0 + band, ho)


# Gather flavour (any table): module-level, compiled once.


@njit(parallel=True, cache=True, fastmath=FMA)
def _columns_first_gather(x, out, ih, wh, band, iw_t, ww_t):
    n, c, h, w = x.shape
    ho, wo = out.shape[2], out.shape[3]
    nb = (ho + band - 1) // band
    for job in prange(n * c * nb):
        b, ch, y0, y1 = _band_job(job, nb, band, ho, c)
        lo, hi = _row_span(ih, y0, y1)
        rows = np.empty((hi - lo + 1, wo), np.float32)
        for r in range(lo, hi + 1):
            _hrow_gather(x[b, ch, r], rows[r - lo], iw_t, ww_t)
        for y in range(y0, y1):
            _vblend(rows, lo, ih, wh, y, out[b, ch, y])


@njit(parallel=True, cache=True, fastmath=FMA)
def _rows_first_gather(x, out, ih, wh, band, iw_t, ww_t):
    n, c, h, w = x.shape
    ho = out.shape[2]
    nb = (ho + band - 1) // band
    for job in prange(n * c * nb):
        b, ch, y0, y1 = _band_job(job, nb, band, ho, c)
        row = np.empty(w, np.float32)
        for y in range(y0, y1):
            _vblend(x[b, ch], 0, ih, wh, y, row)
            _hrow_gather(row, out[b, ch, y], iw_t, ww_t)


# Phased flavour (enlarging by an integer factor): the period R and the taps T are closure constants, so numba
# compiles (and caches, keyed by the closure's values) one version per (R, T); with them constant LLVM unrolls
# the phase loops and vectorises across periods. A runtime R, T or input step measured 4-8× slower here.
@functools.cache
def _phased_columns_first(R, T):  # noqa: N803 - constants of the compiled code, named as such
    @njit(parallel=True, cache=True, fastmath=FMA)
    def columns_first(x, out, ih, wh, band, wp, pmap):
        n, c, h, w = x.shape
        ho, wo = out.shape[2], out.shape[3]
        nb = (ho + band - 1) // band
        full = wo // R
        for job in prange(n * c * nb):
            b, ch, y0, y1 = _band_job(job, nb, band, ho, c)
            lo, hi = _row_span(ih, y0, y1)
            rows = np.empty((hi - lo + 1, wo), np.float32)
            pad = np.empty(pmap.size, np.float32)
            for r in range(lo, hi + 1):
                src = x[b, ch, r]
                dst = rows[r - lo]
                for v in range(pmap.size):
                    pad[v] = src[pmap[v]]
                for m in range(full):
                    for d in range(R):
                        acc = wp[d, 0] * pad[m]
                        for k in range(1, T):
                            acc += wp[d, k] * pad[m + k]
                        dst[R * m + d] = acc
                for j in range(full * R, wo):            # the last, partial period
                    d = j - full * R
                    acc = wp[d, 0] * pad[full]
                    for k in range(1, T):
                        acc += wp[d, k] * pad[full + k]
                    dst[j] = acc
            for y in range(y0, y1):
                _vblend(rows, lo, ih, wh, y, out[b, ch, y])

    return columns_first


# ---------------------------------------------------------------------------------------------- compile


def _sparse_sum(o, i, w, n_in):
    """Total weight per (output, input) pair of a tap list: (keys, sums)."""
    keys, inv = np.unique(o * n_in + i, return_inverse=True)
    return keys, np.bincount(inv.ravel(), weights=w.ravel())


def _same_map(idx_a, w_a, idx_b, w_b, n_in) -> bool:
    """Whether two tap tables (same output count) define the same linear map, up to float64 rounding."""
    m = idx_a.shape[0]
    o_a = np.broadcast_to(np.arange(m)[:, None], idx_a.shape)
    o_b = np.broadcast_to(np.arange(m)[:, None], idx_b.shape)
    keys, sums = _sparse_sum(
        np.concatenate([o_a.ravel(), o_b.ravel()]),
        np.concatenate([idx_a.ravel(), idx_b.ravel()]),
        np.concatenate([w_a.ravel(), -w_b.ravel()]),
        n_in,
    )
    scale = max(float(np.abs(w_a).max(initial=0.0)), 1.0)
    return bool(np.all(np.abs(sums) <= 1e-9 * scale))


def _border_maps(n: int, lo: int, hi: int):
    """Candidate virtual-index → input-index maps for virtual positions lo..hi: clamped, then mirrored."""
    v = np.arange(lo, hi + 1)
    yield np.clip(v, 0, n - 1)
    yield np.concatenate([np.arange(n), np.arange(n - 1, -1, -1)])[np.mod(v, 2 * n)]


def phases(idx: np.ndarray, w: np.ndarray, n_in: int):
    """Periodic form of an enlarging axis' tap table, or None: (wp (r, T) float64, pmap) such that output r·m + d
    equals Σ_k wp[d, k]·in[pmap[m + k]] for every output (one input step per period), checked against the table."""
    m_out, p = idx.shape
    for r in range(1, min(MAX_PERIOD, m_out) + 1):
        blocks = -(-m_out // r)
        if blocks < 3:
            break
        mid = blocks // 2                                   # a period away from both borders
        o = r * mid
        if o + 2 * r > m_out:
            mid -= 1
            o = r * mid
        q = 1
        if not np.array_equal(idx[o + r : o + 2 * r], idx[o : o + r] + q):
            continue
        if not np.allclose(w[o + r : o + 2 * r], w[o : o + r], rtol=0, atol=1e-12):
            continue
        off = idx[o : o + r, 0] - q * mid                    # first virtual tap of each phase
        base = int(off.min())
        t = int(off.max() - base) + p
        if t > MAX_PHASE_TAPS:
            continue
        wp = np.zeros((r, t))
        for d in range(r):
            wp[d, off[d] - base : off[d] - base + p] = w[o + d]
        # The virtual taps of every output, then the border maps that reproduce the table exactly.
        outs = np.arange(m_out)
        virt = (q * (outs // r) + base)[:, None] + np.arange(t)[None, :]
        wv = wp[outs % r]
        lo, hi = base, int(q * (blocks - 1) + base + t - 1)
        for pmap in _border_maps(n_in, lo, hi):
            if _same_map(idx, w, pmap[virt - lo], wv, n_in):
                return wp, pmap
    return None


def compile_tables(taps_h, taps_w, in_shape):
    """fn(inputs, outputs) running the separable resample of an NCHW input of in_shape, tables captured."""
    h, w = in_shape[2], in_shape[3]
    ih = np.ascontiguousarray(taps_h[0], np.int64)
    wh = np.ascontiguousarray(taps_h[1], np.float32)
    iw = np.asarray(taps_w[0], np.int64)
    ww = np.asarray(taps_w[1], np.float64)
    ho = ih.shape[0]
    enlarging = ho > h
    # Enlarging: enough output rows per job that the Ph − 1 overlap rows stay small (measured: 64-270 rows all
    # within 10%, 16 rows 25% slower), few enough that the scratch stays in L2, and at least MIN_JOBS jobs.
    # Otherwise the scratch is one row; bands only batch jobs.
    planes = in_shape[0] * in_shape[1]
    bands = max(-(-ho // BAND_ROWS), -(-MIN_JOBS // planes)) if enlarging else -(-ho // 16)
    band = max(-(-ho // bands), 1)
    found = phases(iw, ww, w) if enlarging else None
    if found is None:
        iw_t = np.ascontiguousarray(iw.T)
        ww_t = np.ascontiguousarray(ww.T, np.float32)
        schedule = _columns_first_gather if enlarging else _rows_first_gather
        extra = (iw_t, ww_t)
    else:
        wp, pmap = found
        schedule = _phased_columns_first(wp.shape[0], wp.shape[1])
        extra = (np.ascontiguousarray(wp, np.float32), np.ascontiguousarray(pmap, np.int64))

    def fn(inputs, outputs):
        schedule(inputs[0], outputs[0], ih, wh, band, *extra)

    return fn
