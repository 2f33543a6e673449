// CPU loops over the math in indi_math.h. Built with -ffp-contract=off (no FMA contraction),
// -fno-trapping-math (lets the selects in unit_to_byte/fp16 vectorise; results are unchanged) and
// -fopenmp-simd (the `omp simd` pragmas only assert independence so in-place calls still vectorise;
// no OpenMP runtime is linked). Threads split rows (or flat ranges) via parallel_for.
#include "cpu_kernels.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#ifdef __linux__
#include <sched.h>
#endif

#include "parallel.h"

namespace indi {

namespace {
// A container limited to 2 CPUs on a 64-core host must not start 64 threads per kernel call: the
// quota would throttle them all. The affinity mask covers taskset/cpusets; cpu.max covers quotas.
int usable_cpus() {
    int n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) n = std::max(1, CPU_COUNT(&set));
    if (FILE* f = std::fopen("/sys/fs/cgroup/cpu.max", "r")) {  // cgroup v2: "<quota> <period>" or "max <period>"
        char quota[32] = {0};
        long period = 0;
        if (std::fscanf(f, "%31s %ld", quota, &period) == 2 && std::strcmp(quota, "max") != 0 && period > 0) {
            const long q = std::atol(quota);
            if (q > 0) n = std::min<int>(n, static_cast<int>(std::max(1L, (q + period - 1) / period)));
        }
        std::fclose(f);
    }
#endif
    return n;
}

int default_threads() {
    if (const char* env = std::getenv("INDI_EDGE_NUM_THREADS")) {
        const int n = std::atoi(env);
        if (n > 0) return n;
    }
    return usable_cpus();
}
std::atomic<int> g_threads{default_threads()};
}  // namespace

void set_num_threads(int n) { g_threads = n > 0 ? n : default_threads(); }
int num_threads() { return g_threads; }

namespace cpu {
namespace {

// On x86-64 Linux with GCC the hot loops are also compiled for x86-64-v3 (AVX2, 8 floats a vector)
// and the variant is chosen once at load time (ifunc); the baseline SSE2 code runs elsewhere.
// -ffp-contract=off applies to both, so AVX2's FMA is never used and results stay identical.
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define INDI_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define INDI_CPU_CLONES
#endif

constexpr int64_t kElementGrain = int64_t{1} << 16;  // elements per thread, at least
constexpr int64_t kPixelGrain = int64_t{1} << 14;

template <Sampler S, bool Noise, class T>
INDI_CPU_CLONES void update_range(const UpdateCoeffs& c, const T* x, const T* x0, const T* y, const T* z, T* out, int64_t begin,
                  int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
        const float yi = S == Sampler::indi ? 0.0f : load_float(y[i]);
        const float zi = Noise ? load_float(z[i]) : 0.0f;
        out[i] = store_float<T>(update_value<S, Noise>(c, load_float(x[i]), load_float(x0[i]), yi, zi));
    }
}

template <Sampler S, class T>
void update_sampler(bool noise, const UpdateCoeffs& c, const T* x, const T* x0, const T* y, const T* z, T* out,
                    int64_t n) {
    parallel_for(n, kElementGrain, [&](int64_t begin, int64_t end) {
        if (noise) {
            update_range<S, true>(c, x, x0, y, z, out, begin, end);
        } else {
            update_range<S, false>(c, x, x0, y, z, out, begin, end);
        }
    });
}

// Rows per chunk so that a chunk holds about kPixelGrain pixels.
int64_t row_grain(int64_t row_length) { return std::max<int64_t>(1, kPixelGrain / std::max<int64_t>(row_length, 1)); }

}  // namespace

template <class T>
void update(Sampler sampler, bool noise, const UpdateCoeffs& c, const T* x, const T* x0, const T* y, const T* z,
            T* out, int64_t n) {
    switch (sampler) {
        case Sampler::indi: return update_sampler<Sampler::indi>(noise, c, x, x0, y, z, out, n);
        case Sampler::naive: return update_sampler<Sampler::naive>(noise, c, x, x0, y, z, out, n);
        case Sampler::cold: return update_sampler<Sampler::cold>(noise, c, x, x0, y, z, out, n);
    }
}

template <class T>
void preprocess(const uint8_t* frame, int64_t h, int64_t w, T* out, int64_t hp, int64_t wp) {
    // Only 256 inputs exist: convert them once, then each output element is one table load.
    T table[256];
    for (int v = 0; v < 256; ++v) table[v] = store_float<T>(byte_to_unit(static_cast<uint8_t>(v)));
    const int64_t plane = hp * wp;
    parallel_for(hp, row_grain(wp), [&](int64_t row_begin, int64_t row_end) {
        for (int64_t i = row_begin; i < row_end; ++i) {
            const uint8_t* src = frame + reflect101(i, h) * w * 3;
            T* red = out + i * wp;
            T* green = red + plane;
            T* blue = green + plane;
            for (int64_t j = 0; j < w; ++j) {
                blue[j] = table[src[3 * j + 0]];
                green[j] = table[src[3 * j + 1]];
                red[j] = table[src[3 * j + 2]];
            }
            for (int64_t j = w; j < wp; ++j) {  // right padding mirrors this row's own values
                const int64_t k = reflect101(j, w);
                red[j] = red[k];
                green[j] = green[k];
                blue[j] = blue[k];
            }
        }
    });
}

namespace {
// One channel's row segment to bytes: contiguous, so the loop vectorises.
template <class T>
INDI_CPU_CLONES void to_bytes(const T* x, uint8_t* bytes, int64_t n) {
#pragma omp simd
    for (int64_t k = 0; k < n; ++k) bytes[k] = unit_to_byte(load_float(x[k]));
}
}  // namespace

template <class T>
void postprocess(const T* x, int64_t hp, int64_t wp, uint8_t* out, int64_t h, int64_t w) {
    constexpr int64_t kChunk = 512;  // pixels per step: three byte buffers stay in L1
    const int64_t plane = hp * wp;
    parallel_for(h, row_grain(w), [&](int64_t row_begin, int64_t row_end) {
        uint8_t r[kChunk], g[kChunk], b[kChunk];
        for (int64_t i = row_begin; i < row_end; ++i) {
            const T* red = x + i * wp;
            for (int64_t j0 = 0; j0 < w; j0 += kChunk) {
                const int64_t n = std::min(kChunk, w - j0);
                to_bytes(red + j0, r, n);
                to_bytes(red + plane + j0, g, n);
                to_bytes(red + 2 * plane + j0, b, n);
                uint8_t* dst = out + (i * w + j0) * 3;
                for (int64_t k = 0; k < n; ++k) {  // interleave to BGR
                    dst[3 * k + 0] = b[k];
                    dst[3 * k + 1] = g[k];
                    dst[3 * k + 2] = r[k];
                }
            }
        }
    });
}

namespace {
template <class T>
INDI_CPU_CLONES void blend_row(float* acc, const float* weight, const T* tile, int64_t n) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) acc[j] = blend_value(acc[j], weight[j], load_float(tile[j]));
}

INDI_CPU_CLONES void add_row(float* wsum, const float* weight, int64_t n) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) wsum[j] = add_rn(wsum[j], weight[j]);
}
}  // namespace

template <class T>
void blend_accumulate(float* acc, float* wsum, int64_t channels, int64_t height, int64_t width, const T* tile,
                      const float* weight, int64_t th, int64_t tw, int64_t top, int64_t left) {
    parallel_for(th, row_grain(tw * (channels + 1)), [&](int64_t row_begin, int64_t row_end) {
        for (int64_t i = row_begin; i < row_end; ++i) {
            for (int64_t ch = 0; ch < channels; ++ch) {
                blend_row(acc + (ch * height + top + i) * width + left, weight + i * tw, tile + (ch * th + i) * tw, tw);
            }
            add_row(wsum + (top + i) * width + left, weight + i * tw, tw);
        }
    });
}

#define INDI_INSTANTIATE(T)                                                                                    \
    template void update<T>(Sampler, bool, const UpdateCoeffs&, const T*, const T*, const T*, const T*, T*,     \
                            int64_t);                                                                          \
    template void preprocess<T>(const uint8_t*, int64_t, int64_t, T*, int64_t, int64_t);                        \
    template void postprocess<T>(const T*, int64_t, int64_t, uint8_t*, int64_t, int64_t);                       \
    template void blend_accumulate<T>(float*, float*, int64_t, int64_t, int64_t, const T*, const float*, int64_t, \
                                      int64_t, int64_t, int64_t);
INDI_INSTANTIATE(float)
INDI_INSTANTIATE(uint16_t)
#undef INDI_INSTANTIATE

}  // namespace cpu
}  // namespace indi
