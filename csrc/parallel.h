// A minimal parallel_for over an index range on plain std::threads (no OpenMP runtime to ship or
// to clash with torch's). Threads are started per call; callers pass a grain large enough that the
// start-up (~tens of microseconds) is small against the work.
#pragma once

#include <algorithm>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

namespace indi {

// Threads used by the CPU kernels; 0 or less means the default: INDI_EDGE_NUM_THREADS, else the CPUs
// this process may use (its affinity mask and, in a container, its cgroup CPU quota).
void set_num_threads(int n);
int num_threads();

// Calls body(begin, end) on disjoint chunks covering [0, n), at least `grain` indices per chunk.
template <class Body>
void parallel_for(int64_t n, int64_t grain, const Body& body) {
    const int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(grain, 1));
    const int64_t chunks = std::min<int64_t>(num_threads(), max_chunks);
    if (chunks <= 1) {
        body(int64_t{0}, n);
        return;
    }
    std::vector<std::thread> workers;
    workers.reserve(static_cast<size_t>(chunks - 1));
    const int64_t step = (n + chunks - 1) / chunks;
    for (int64_t begin = step; begin < n; begin += step) {
        const int64_t end = std::min(n, begin + step);
        try {
            workers.emplace_back([&body, begin, end] { body(begin, end); });
        } catch (const std::system_error&) {
            body(begin, end);  // no thread to be had (limits, memory): this chunk runs here, not abort()
        }
    }
    body(int64_t{0}, std::min(n, step));
    for (auto& worker : workers) worker.join();
}

}  // namespace indi
