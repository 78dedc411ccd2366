// One model, several sessions on several threads at once: every thread's output must equal the output
// of the same input run sequentially (a model is immutable and shareable; sessions are independent).
//
//   pysr_threads_test MODEL.pysr [THREADS=4] [W=37] [H=29]
// Prints "ok" and exits 0, or names the first mismatch and exits 1.
#include <pysr.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

std::vector<float> input(int seed, size_t n) {
    std::vector<float> x(n);
    uint32_t s = uint32_t(seed) * 2654435761u + 1u;
    for (auto &v : x) {
        s = s * 1664525u + 1013904223u;
        v = float(s >> 8) / float(1u << 24);
    }
    return x;
}

bool run(const pysr_model_t *m, int w, int h, const std::vector<float> &x, std::vector<float> &y, int threads) {
    pysr_session_params p;
    pysr_session_default_params(&p);
    p.num_threads = threads;
    pysr_session_t *s = nullptr;
    if (pysr_session_create(m, w, h, &p, &s) != PYSR_STATUS_OK) return false;
    bool ok = true;
    for (int rep = 0; rep < 3 && ok; ++rep) ok = pysr_session_run_float(s, x.data(), y.data()) == PYSR_STATUS_OK;
    pysr_session_free(s);
    return ok;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL.pysr [THREADS] [W] [H]\n", argv[0]);
        return 2;
    }
    int n = argc > 2 ? std::atoi(argv[2]) : 4, w = argc > 3 ? std::atoi(argv[3]) : 37, h = argc > 4 ? std::atoi(argv[4]) : 29;
    pysr_model_t *m = nullptr;
    if (pysr_model_load_file(argv[1], &m) != PYSR_STATUS_OK) {
        std::fprintf(stderr, "load: %s\n", pysr_last_error());
        return 1;
    }
    pysr_model_facts f;
    pysr_model_get_facts(m, &f);
    size_t in_n = size_t(f.input_channels) * size_t(w) * size_t(h);
    size_t out_n = size_t(f.output_channels) * size_t(w) * size_t(h) * size_t(f.scale) * size_t(f.scale);
    std::vector<std::vector<float>> xs;
    std::vector<std::vector<float>> expect(static_cast<size_t>(n), std::vector<float>(out_n));
    std::vector<std::vector<float>> got(static_cast<size_t>(n), std::vector<float>(out_n));
    for (int t = 0; t < n; ++t) xs.push_back(input(t, in_n));
    for (int t = 0; t < n; ++t)
        if (!run(m, w, h, xs[size_t(t)], expect[size_t(t)], 1)) {
            std::fprintf(stderr, "sequential run %d: %s\n", t, pysr_last_error());
            return 1;
        }
    std::vector<std::thread> pool;
    std::vector<int> ok(size_t(n), 0);
    for (int t = 0; t < n; ++t)
        pool.emplace_back([&, t] { ok[size_t(t)] = run(m, w, h, xs[size_t(t)], got[size_t(t)], 2); });
    for (auto &th : pool) th.join();
    for (int t = 0; t < n; ++t) {
        if (!ok[size_t(t)]) {
            std::fprintf(stderr, "thread %d: run failed\n", t);
            return 1;
        }
        for (size_t i = 0; i < out_n; ++i)
            if (got[size_t(t)][i] != expect[size_t(t)][i]) {
                std::fprintf(stderr, "thread %d: element %zu is %.9g, sequential gave %.9g\n", t, i,
                             double(got[size_t(t)][i]), double(expect[size_t(t)][i]));
                return 1;
            }
    }
    pysr_model_free(m);
    std::printf("ok\n");
    return 0;
}
