// pad (pysr/ops/pad.py): pad H and W by pads = (top, bottom, left, right) in mode zeros (with `value`),
// reflect (mirror without repeating the edge; every pad smaller than its axis) or replicate (clamp).
// prepare tables the source row of every output row and the source column of every output column (−1:
// write `value`); `value` is read back from the file attrs there (op.hpp, file_attrs).
// Threads: one job per (n, c, band of output rows); a row copies its W interior elements in one memcpy
// and fills its borders through the column table. Traffic: 1 read per interior element, 1 write per output.
#include <algorithm>
#include <cstring>

#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

namespace {

constexpr int64_t kBand = 16;

const char *const kModes[] = {"zeros", "reflect", "replicate"};

void parse(const Json &j, Attrs &a) {
    AttrReader r("pad", j);
    const Json *pads = r.take("pads");
    if (!pads) attr_fail("pad", "attribute 'pads' is required");
    if (!pads->is_array() || pads->array.size() != 4)
        attr_fail("pad", "pads must be (top, bottom, left, right), got " + pads->dump());
    a.sizes.clear();
    for (auto &v : pads->array) {
        if (!v.is_integer() || v.integer < 0 || v.integer > (1 << 24))
            attr_fail("pad", "attribute pads=" + v.dump() + " must be an integer in [0, 2^24]");
        a.sizes.push_back(v.integer);
    }
    std::string mode = r.choice("mode", "zeros", {kModes[0], kModes[1], kModes[2]});
    a.pad_mode = mode == "reflect" ? PadMode::Reflect : mode == "replicate" ? PadMode::Replicate : PadMode::Zeros;
    double value = r.number("value", 0.0);
    if (a.pad_mode != PadMode::Zeros && value != 0.0)
        attr_fail("pad", "value=" + j.find("value")->dump() + " only applies to mode 'zeros', not '" + mode + "'");
    r.finish();
}

std::vector<Shape> shape(const Node &n, const Graph &, const std::vector<Shape> &in) {
    expect_count("pad", in, 1);
    const Shape &s = expect_rank4("pad", "input", in[0]);
    const std::vector<int64_t> &p = n.attrs.sizes;  // top, bottom, left, right
    if (n.attrs.pad_mode == PadMode::Reflect && (std::max(p[0], p[1]) >= s[2] || std::max(p[2], p[3]) >= s[3]))
        shape_fail("pad: reflect pads (top, bottom, left, right) = (" + std::to_string(p[0]) + ", " + std::to_string(p[1]) +
                   ", " + std::to_string(p[2]) + ", " + std::to_string(p[3]) + ") must be smaller than the input's height×width " +
                   std::to_string(s[2]) + "×" + std::to_string(s[3]));
    return {{s[0], s[1], s[2] + p[0] + p[1], s[3] + p[2] + p[3]}};
}

// Source index of each padded position t − before along an axis of `size`, −1 for the constant.
std::vector<int64_t> source_index(int64_t size, int64_t before, int64_t after, PadMode mode) {
    std::vector<int64_t> src;
    for (int64_t t = -before; t < size + after; ++t) {
        if (mode == PadMode::Reflect) {
            int64_t u = t < 0 ? -t : t;
            src.push_back(u >= size ? 2 * (size - 1) - u : u);
        } else if (mode == PadMode::Replicate) {
            src.push_back(std::min(std::max(t, int64_t(0)), size - 1));
        } else {
            src.push_back(t >= 0 && t < size ? t : -1);
        }
    }
    return src;
}

struct State : OpState {
    std::vector<int64_t> rows, cols;
    float value = 0.0f;
    int64_t planes = 0, h = 0, w = 0, ho = 0, wo = 0, left = 0;
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        int64_t bands = (ho + kBand - 1) / kBand;
        pool.parallel_for(planes * bands, [&](int64_t job, int) {
            int64_t p = job / bands, y0 = (job % bands) * kBand, y1 = std::min(ho, y0 + kBand);
            for (int64_t y = y0; y < y1; ++y) {
                float *dst = out[0] + (p * ho + y) * wo;
                int64_t sy = rows[size_t(y)];
                if (sy < 0) {
                    std::fill(dst, dst + wo, value);
                    continue;
                }
                const float *src = in[0] + (p * h + sy) * w;
                std::memcpy(dst + left, src, size_t(w) * 4);
                for (int64_t x = 0; x < left; ++x) dst[x] = cols[size_t(x)] < 0 ? value : src[cols[size_t(x)]];
                for (int64_t x = left + w; x < wo; ++x) dst[x] = cols[size_t(x)] < 0 ? value : src[cols[size_t(x)]];
            }
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in,
                                 const std::vector<Shape> &out, int) {
    auto s = std::make_unique<State>();
    const std::vector<int64_t> &p = node.attrs.sizes;
    AttrReader r("pad", file_attrs(node));
    s->value = float(r.number("value", 0.0));
    s->planes = in[0][0] * in[0][1];
    s->h = in[0][2];
    s->w = in[0][3];
    s->ho = out[0][2];
    s->wo = out[0][3];
    s->left = p[2];
    s->rows = source_index(s->h, p[0], p[1], node.attrs.pad_mode);
    s->cols = source_index(s->w, p[2], p[3], node.attrs.pad_mode);
    return s;
}

}  // namespace

const OpDef op_pad = {"pad", 1, {}, parse, shape, prepare};

}  // namespace pysr
