// ycbcr_to_rgb (pysr/ops/ycbcr_to_rgb.py): the inverse affine map M⁻¹·(in − o) of rgb_to_ycbcr, with
// M⁻¹ computed in float64 here (cofactors) and run by rgb_to_ycbcr.cpp's per-pixel kernel.
#include "colour_affine.hpp"

namespace pysr {

namespace {

void parse(const Json &j, Attrs &a) {
    AttrReader r("ycbcr_to_rgb", j);
    parse_colour("ycbcr_to_rgb", r, a);
    r.finish();
}

std::vector<Shape> shape(const Node &, const Graph &, const std::vector<Shape> &in) {
    return {three_channels("ycbcr_to_rgb", in)};
}

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in, const std::vector<Shape> &,
                                 int) {
    auto s = std::make_unique<AffineState>();
    double m[3][3], o[3];
    colour_matrix(node.attrs.bt709, node.attrs.full_range, m, o);
    double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                 m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
            // inverse[i][j] = cofactor[j][i] / det
            int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
            s->m[i][j] = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / det;
        }
    for (int i = 0; i < 3; ++i) s->o[i] = -(s->m[i][0] * o[0] + s->m[i][1] * o[1] + s->m[i][2] * o[2]);
    s->rows = 3;
    s->n = in[0][0];
    s->plane = in[0][2] * in[0][3];
    return s;
}

}  // namespace

const OpDef op_ycbcr_to_rgb = {"ycbcr_to_rgb", 1, {}, parse, shape, prepare};

}  // namespace pysr
