// A small fork-join thread pool, one per session (a session is used by one thread at a time, so a pool
// never sees two jobs at once). The calling thread works too: a pool of size T starts T − 1 workers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pysr {

class ThreadPool {
  public:
    explicit ThreadPool(int threads);  // threads >= 1
    ~ThreadPool();
    ThreadPool(const ThreadPool &) = delete;
    ThreadPool &operator=(const ThreadPool &) = delete;
    int size() const { return int(workers_.size()) + 1; }
    // fn(i, t) for every i in [0, n), t = the index (< size()) of the thread running it; items are handed
    // out one at a time from an atomic counter (dynamic schedule). Returns when all are done; the first
    // exception thrown by fn is rethrown here.
    void parallel_for(int64_t n, const std::function<void(int64_t, int)> &fn);

  private:
    void worker(int t);
    void work(int t);
    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable start_cv_, done_cv_;
    uint64_t generation_ = 0;
    int busy_ = 0;
    bool stop_ = false;
    const std::function<void(int64_t, int)> *fn_ = nullptr;
    int64_t n_ = 0;
    std::atomic<int64_t> next_{0};
    std::exception_ptr error_;
};

}  // namespace pysr
