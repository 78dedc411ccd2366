// A loaded model: the facts, the graph as the file holds it, and the network graph after the fusion
// passes (what sessions run). Immutable after loading, so one Model serves any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "graph.hpp"

namespace pysr {

// The `state` fact of a recurrent model (docs/temporal.md, pysr/io/model_file.py check_state).
struct Carry {
    std::string input, from;     // graph input fed at step t by the value `from` had at step t − 1
    int scale = 1;               // its size relative to the frame input
    bool initial_frame = false;  // before the first frame: the frame itself (else zeros)
};
struct State {
    std::string frame_input, frame_output;
    std::vector<Carry> carry;    // every graph input but frame_input, once
};

struct Facts {
    std::string architecture, name, temporal;
    int scale = 1, receptive_field = 0;
    bool colour_y = false;             // mode "y" (else "rgb")
    bool bt709 = false, full_range = false;
    std::string chroma;                // resize op name for Y models
    double input_lo = 0.0, input_hi = 1.0;
    int temporal_kind = 1, window = 0; // pysr_temporal_kind, k of window(k)
    State state;                       // recurrent models only
};

struct Model {
    Facts facts;
    Graph file_graph;  // as stored (validated)
    Graph net;         // after passes.cpp (fused); the graph sessions compile
};

// Reads and fully checks a .pysr file held in memory (docs/model-file.md §5, in pysr/io/model_file.py's
// order). `where` prefixes every message (the path, or "<memory>"). Throws Error.
Model read_model(const uint8_t *data, size_t size, const std::string &where);

// The fusion passes of pysr/graph/passes.py that apply to the ops of this library (passes.cpp).
Graph optimize(const Graph &g);
// pysr/models/colour.py wrap_rgb: a graph taking and returning RGB in [0, 1] (colour.cpp).
Graph wrap_rgb(const Graph &net, const Facts &facts);
// Its two halves, for temporal models whose frames are converted one by one (colour.py frame_to_network and
// network_to_frame): "rgb" → ["y", "cbcr"] for a Y model (no nodes and output "rgb" for an RGB model), and
// "net_out" (+ "cbcr" for a Y model) → "rgb_hr" clamped to [0, 1].
Graph frame_to_network(const Facts &facts);
Graph network_to_frame(const Facts &facts, int64_t out_channels);

}  // namespace pysr
