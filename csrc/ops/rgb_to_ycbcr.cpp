// rgb_to_ycbcr (pysr/ops/rgb_to_ycbcr.py): out[k] = Σ_j M[k, j]·in[j] + o[k] per pixel, evaluated in
// float64 and rounded once, with M and o built in float64 from Kr, Kb and the range constants (rows Y',
// Pb, Pr times the range gains), as kernels/cpu/rgb_to_ycbcr.py does. ycbcr_to_rgb.cpp runs the inverse
// map with the same kernel. Threads: one job per (n, chunk of 16 Ki pixels); 3 reads, 3 (or 1) writes.
#include <algorithm>

#include "../threads.hpp"
#include "colour_affine.hpp"
#include "op.hpp"

namespace pysr {

void colour_matrix(bool bt709, bool full, double m[3][3], double o[3]) {
    double kr = bt709 ? 0.2126 : 0.299, kb = bt709 ? 0.0722 : 0.114, kg = 1.0 - kr - kb;
    double rows[3][3] = {{kr, kg, kb}, {-kr, -kg, 1.0 - kb}, {1.0 - kr, -kg, -kb}};
    for (int j = 0; j < 3; ++j) {
        rows[1][j] /= 2.0 * (1.0 - kb);
        rows[2][j] /= 2.0 * (1.0 - kr);
    }
    double gains[3] = {219.0 / 255.0, 224.0 / 255.0, 224.0 / 255.0};
    double offs[3] = {16.0 / 255.0, 128.0 / 255.0, 128.0 / 255.0};
    if (full) {
        gains[0] = gains[1] = gains[2] = 1.0;
        offs[0] = 0.0;
    }
    for (int k = 0; k < 3; ++k) {
        for (int j = 0; j < 3; ++j) m[k][j] = rows[k][j] * gains[k];
        o[k] = offs[k];
    }
}

void parse_colour(const char *op, AttrReader &r, Attrs &a) {
    a.bt709 = r.choice("matrix", nullptr, {"bt601", "bt709"}) == "bt709";
    a.full_range = r.choice("range", nullptr, {"limited", "full"}) == "full";
    (void)op;
}

Shape three_channels(const char *op, const std::vector<Shape> &in) {
    expect_count(op, in, 1);
    const Shape &s = expect_rank4(op, "input", in[0]);
    if (s[1] != 3) shape_fail(std::string(op) + ": input must have 3 channels (N×3×H×W), got shape " + shape_str(s));
    return s;
}

namespace {

void parse(const Json &j, Attrs &a) {
    AttrReader r("rgb_to_ycbcr", j);
    parse_colour("rgb_to_ycbcr", r, a);
    a.y_only = r.boolean("y_only", false);
    r.finish();
}

std::vector<Shape> shape(const Node &n, const Graph &, const std::vector<Shape> &in) {
    Shape s = three_channels("rgb_to_ycbcr", in);
    if (n.attrs.y_only) s[1] = 1;
    return {s};
}

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in, const std::vector<Shape> &,
                                 int) {
    auto s = std::make_unique<AffineState>();
    colour_matrix(node.attrs.bt709, node.attrs.full_range, s->m, s->o);
    s->rows = node.attrs.y_only ? 1 : 3;
    s->n = in[0][0];
    s->plane = in[0][2] * in[0][3];
    return s;
}

}  // namespace

const OpDef op_rgb_to_ycbcr = {"rgb_to_ycbcr", 1, {}, parse, shape, prepare};

}  // namespace pysr
