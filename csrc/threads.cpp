// Fork-join pool (threads.hpp). Workers sleep on a condition variable between jobs: a wake-up costs a few
// microseconds, against milliseconds per conv layer, and sleeping never steals the cores from a host.
#include "threads.hpp"

namespace pysr {

ThreadPool::ThreadPool(int threads) {
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { worker(t); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    start_cv_.notify_all();
    for (auto &w : workers_) w.join();
}

void ThreadPool::work(int t) {
    for (int64_t i = next_.fetch_add(1); i < n_; i = next_.fetch_add(1)) {
        try {
            (*fn_)(i, t);
        } catch (...) {
            std::lock_guard<std::mutex> lock(mu_);
            if (!error_) error_ = std::current_exception();
            next_.store(n_);  // stop handing out work
        }
    }
}

void ThreadPool::worker(int t) {
    uint64_t seen = 0;
    while (true) {
        {
            std::unique_lock<std::mutex> lock(mu_);
            start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
        }
        work(t);
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (--busy_ == 0) done_cv_.notify_one();
        }
    }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int)> &fn) {
    if (n <= 0) return;
    if (workers_.empty() || n == 1) {
        for (int64_t i = 0; i < n; ++i) fn(i, 0);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        fn_ = &fn;
        n_ = n;
        next_.store(0);
        error_ = nullptr;
        busy_ = int(workers_.size());
        ++generation_;
    }
    start_cv_.notify_all();
    work(0);
    std::exception_ptr err;
    {
        std::unique_lock<std::mutex> lock(mu_);
        done_cv_.wait(lock, [&] { return busy_ == 0; });
        err = error_;
        fn_ = nullptr;
    }
    if (err) std::rethrow_exception(err);
}

}  // namespace pysr
