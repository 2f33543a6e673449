// CUDA kernels over the math in indi_math.h: one thread per 16-byte pack (4 floats or 8 halves)
// where the buffers are 16-byte aligned, one per element otherwise. Consecutive threads touch
// consecutive packs, so every warp reads and writes whole 512-byte runs (coalesced).
#include "cuda_kernels.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#ifndef INDI_EDGE_CUDA_ARCHS
#define INDI_EDGE_CUDA_ARCHS "unknown"
#endif

namespace indi::cuda {
namespace {

constexpr int kBlock = 256;
constexpr int64_t kMaxBlocks = int64_t{1} << 20;  // grid-stride loops cover anything larger

// 16 bytes of T, loaded and stored as one uint4 (ld/st.global.v4).
template <class T>
struct Pack {
    static constexpr int N = 16 / sizeof(T);
    union {
        uint4 raw;
        T v[N];
    };
};

void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess) {
        throw std::runtime_error(std::string("indi_edge._core: ") + what + " failed: " + cudaGetErrorName(err) + " (" +
                                 cudaGetErrorString(err) + ")");
    }
}

// Every launcher starts here, so a machine without a GPU gets one clear message.
void require_device() {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
        cudaGetLastError();  // leave no sticky error behind
        throw std::runtime_error(std::string("indi_edge._core: no CUDA device is visible (") +
                                 (err == cudaSuccess ? "0 devices" : cudaGetErrorString(err)) +
                                 "); use the CPU functions of indi_edge.ops instead");
    }
}

void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

bool aligned16(uintptr_t p) { return p % 16 == 0; }

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

unsigned blocks_for(int64_t work) {
    return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((work + kBlock - 1) / kBlock, kMaxBlocks)));
}

// --- update ------------------------------------------------------------------------------------

template <Sampler S, bool Noise, class T>
__device__ __forceinline__ void update_one(const UpdateCoeffs& c, const T* x, const T* x0, const T* y, const T* z,
                                           T* out, int64_t i) {
    const float yi = S == Sampler::indi ? 0.0f : load_float(y[i]);
    const float zi = Noise ? load_float(z[i]) : 0.0f;
    const float xi = S == Sampler::naive ? 0.0f : load_float(x[i]);
    out[i] = store_float<T>(update_value<S, Noise>(c, xi, load_float(x0[i]), yi, zi));
}

// No __restrict__: out may be x (in place); each element is read before the same thread writes it.
template <Sampler S, bool Noise, class T>
__global__ void update_packed(UpdateCoeffs c, const T* x, const T* x0, const T* y, const T* z, T* out, int64_t n) {
    using P = Pack<T>;
    const int64_t packs = n / P::N;
    const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t p = first; p < packs; p += stride) {
        P px{}, px0, py{}, pz{}, po;
        if (S != Sampler::naive) px.raw = reinterpret_cast<const uint4*>(x)[p];
        px0.raw = reinterpret_cast<const uint4*>(x0)[p];
        if (S != Sampler::indi) py.raw = reinterpret_cast<const uint4*>(y)[p];
        if (Noise) pz.raw = reinterpret_cast<const uint4*>(z)[p];
#pragma unroll
        for (int k = 0; k < P::N; ++k) {
            po.v[k] = store_float<T>(update_value<S, Noise>(c, load_float(px.v[k]), load_float(px0.v[k]),
                                                            load_float(py.v[k]), load_float(pz.v[k])));
        }
        reinterpret_cast<uint4*>(out)[p] = po.raw;
    }
    if (first == 0) {  // the last n % N elements
        for (int64_t i = packs * P::N; i < n; ++i) update_one<S, Noise>(c, x, x0, y, z, out, i);
    }
}

template <Sampler S, bool Noise, class T>
__global__ void update_scalar(UpdateCoeffs c, const T* x, const T* x0, const T* y, const T* z, T* out, int64_t n) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        update_one<S, Noise>(c, x, x0, y, z, out, i);
    }
}

template <Sampler S, bool Noise, class T>
void launch_update(const UpdateCoeffs& c, uintptr_t x, uintptr_t x0, uintptr_t y, uintptr_t z, uintptr_t out,
                   int64_t n, cudaStream_t stream) {
    const bool packed = aligned16(x) && aligned16(x0) && aligned16(y) && aligned16(z) && aligned16(out);
    auto ptr = [](uintptr_t p) { return reinterpret_cast<T*>(p); };
    if (packed) {
        update_packed<S, Noise, T><<<blocks_for(n / Pack<T>::N), kBlock, 0, stream>>>(c, ptr(x), ptr(x0), ptr(y),
                                                                                       ptr(z), ptr(out), n);
    } else {
        update_scalar<S, Noise, T><<<blocks_for(n), kBlock, 0, stream>>>(c, ptr(x), ptr(x0), ptr(y), ptr(z),
                                                                        ptr(out), n);
    }
    check_launch("update kernel launch");
}

template <class T>
void dispatch_update(Sampler sampler, bool noise, const UpdateCoeffs& c, uintptr_t x, uintptr_t x0, uintptr_t y,
                     uintptr_t z, uintptr_t out, int64_t n, cudaStream_t stream) {
    switch (sampler) {
        case Sampler::indi:
            return noise ? launch_update<Sampler::indi, true, T>(c, x, x0, y, z, out, n, stream)
                         : launch_update<Sampler::indi, false, T>(c, x, x0, y, z, out, n, stream);
        case Sampler::naive:
            return noise ? launch_update<Sampler::naive, true, T>(c, x, x0, y, z, out, n, stream)
                         : launch_update<Sampler::naive, false, T>(c, x, x0, y, z, out, n, stream);
        case Sampler::cold:
            return noise ? launch_update<Sampler::cold, true, T>(c, x, x0, y, z, out, n, stream)
                         : launch_update<Sampler::cold, false, T>(c, x, x0, y, z, out, n, stream);
    }
}

// --- frame conversion ---------------------------------------------------------------------------

// Grid: x over packs of one output row, y over rows (grid-stride). A pack whose pixels all lie in
// the source's columns is converted from contiguous source bytes and stored as three uint4.
template <class T>
__global__ void preprocess_kernel(const uint8_t* frame, int64_t h, int64_t w, T* out, int64_t hp, int64_t wp,
                                  bool packed) {
    using P = Pack<T>;
    const int64_t plane = hp * wp;
    const int64_t j0 = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * P::N;
    if (j0 >= wp) return;
    for (int64_t i = blockIdx.y; i < hp; i += gridDim.y) {
        const uint8_t* src = frame + reflect101(i, h) * w * 3;
        T* red = out + i * wp;
        T* green = red + plane;
        T* blue = green + plane;
        if (packed && j0 + P::N <= w) {
            P r, g, b;
#pragma unroll
            for (int k = 0; k < P::N; ++k) {
                const uint8_t* px = src + 3 * (j0 + k);
                b.v[k] = store_float<T>(byte_to_unit(px[0]));
                g.v[k] = store_float<T>(byte_to_unit(px[1]));
                r.v[k] = store_float<T>(byte_to_unit(px[2]));
            }
            *reinterpret_cast<uint4*>(red + j0) = r.raw;
            *reinterpret_cast<uint4*>(green + j0) = g.raw;
            *reinterpret_cast<uint4*>(blue + j0) = b.raw;
        } else {
            for (int64_t j = j0; j < min64(j0 + P::N, wp); ++j) {
                const uint8_t* px = src + 3 * reflect101(j, w);
                blue[j] = store_float<T>(byte_to_unit(px[0]));
                green[j] = store_float<T>(byte_to_unit(px[1]));
                red[j] = store_float<T>(byte_to_unit(px[2]));
            }
        }
    }
}

template <class T>
__global__ void postprocess_kernel(const T* x, int64_t hp, int64_t wp, uint8_t* out, int64_t h, int64_t w,
                                   bool packed) {
    using P = Pack<T>;
    const int64_t plane = hp * wp;
    const int64_t j0 = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * P::N;
    if (j0 >= w) return;
    const int count = static_cast<int>(min64(P::N, w - j0));
    for (int64_t i = blockIdx.y; i < h; i += gridDim.y) {
        const T* red = x + i * wp;
        const T* green = red + plane;
        const T* blue = green + plane;
        uint8_t* dst = out + (i * w + j0) * 3;
        if (packed) {  // wp is a multiple of N, so the whole pack lies inside the row
            P r, g, b;
            r.raw = *reinterpret_cast<const uint4*>(red + j0);
            g.raw = *reinterpret_cast<const uint4*>(green + j0);
            b.raw = *reinterpret_cast<const uint4*>(blue + j0);
#pragma unroll
            for (int k = 0; k < P::N; ++k) {
                if (k < count) {
                    dst[3 * k + 0] = unit_to_byte(load_float(b.v[k]));
                    dst[3 * k + 1] = unit_to_byte(load_float(g.v[k]));
                    dst[3 * k + 2] = unit_to_byte(load_float(r.v[k]));
                }
            }
        } else {
            for (int k = 0; k < count; ++k) {
                dst[3 * k + 0] = unit_to_byte(load_float(blue[j0 + k]));
                dst[3 * k + 1] = unit_to_byte(load_float(green[j0 + k]));
                dst[3 * k + 2] = unit_to_byte(load_float(red[j0 + k]));
            }
        }
    }
}

dim3 row_grid(int64_t row_length, int pack, int64_t rows) {
    const int64_t packs = (row_length + pack - 1) / pack;
    return dim3(static_cast<unsigned>((packs + kBlock - 1) / kBlock),
                static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(rows, 65535))));
}

// --- tile blending ------------------------------------------------------------------------------

// One thread per tile pixel: reads the weight once, updates wsum and every channel of acc.
// Pixels are distinct within a launch, so no atomics; launches on one stream run in order.
template <class T>
__global__ void blend_kernel(float* acc, float* wsum, int64_t channels, int64_t height, int64_t width, const T* tile,
                             const float* weight, int64_t th, int64_t tw, int64_t top, int64_t left) {
    const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (j >= tw) return;
    for (int64_t i = blockIdx.y; i < th; i += gridDim.y) {
        const float w = weight[i * tw + j];
        for (int64_t ch = 0; ch < channels; ++ch) {
            float& a = acc[(ch * height + top + i) * width + left + j];
            a = blend_value(a, w, load_float(tile[(ch * th + i) * tw + j]));
        }
        float& s = wsum[(top + i) * width + left + j];
        s = add_rn(s, w);
    }
}

cudaStream_t as_stream(uintptr_t stream) { return reinterpret_cast<cudaStream_t>(stream); }

}  // namespace

bool available() {
    int count = 0;
    const bool ok = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
    cudaGetLastError();
    return ok;
}

std::string device_info() {
    int runtime = 0, driver = 0, device = 0;
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);
    std::string versions = "runtime " + std::to_string(runtime) + ", driver " + std::to_string(driver);
    if (!available()) return "no CUDA device visible; " + versions;
    cudaDeviceProp prop{};
    check(cudaGetDevice(&device), "cudaGetDevice");
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    cudaFuncAttributes attr{};
    check(cudaFuncGetAttributes(&attr, update_packed<Sampler::indi, false, float>), "cudaFuncGetAttributes");
    return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) +
           "), kernels run as binary sm_" + std::to_string(attr.binaryVersion) + " from PTX " +
           std::to_string(attr.ptxVersion) + ", " + versions;
}

std::string built_archs() { return INDI_EDGE_CUDA_ARCHS; }

void update(Sampler sampler, bool noise, const UpdateCoeffs& c, uintptr_t x, uintptr_t x0, uintptr_t y, uintptr_t z,
            uintptr_t out, int64_t n, DType dtype, uintptr_t stream) {
    require_device();
    if (n == 0) return;
    if (dtype == DType::f32) {
        dispatch_update<float>(sampler, noise, c, x, x0, y, z, out, n, as_stream(stream));
    } else {
        dispatch_update<uint16_t>(sampler, noise, c, x, x0, y, z, out, n, as_stream(stream));
    }
}

void preprocess(uintptr_t frame, int64_t h, int64_t w, uintptr_t out, int64_t hp, int64_t wp, DType dtype,
                uintptr_t stream) {
    require_device();
    const auto* src = reinterpret_cast<const uint8_t*>(frame);
    if (dtype == DType::f32) {
        const bool packed = aligned16(out) && wp % Pack<float>::N == 0;
        preprocess_kernel<float><<<row_grid(wp, Pack<float>::N, hp), kBlock, 0, as_stream(stream)>>>(
            src, h, w, reinterpret_cast<float*>(out), hp, wp, packed);
    } else {
        const bool packed = aligned16(out) && wp % Pack<uint16_t>::N == 0;
        preprocess_kernel<uint16_t><<<row_grid(wp, Pack<uint16_t>::N, hp), kBlock, 0, as_stream(stream)>>>(
            src, h, w, reinterpret_cast<uint16_t*>(out), hp, wp, packed);
    }
    check_launch("preprocess kernel launch");
}

void postprocess(uintptr_t x, int64_t hp, int64_t wp, uintptr_t out, int64_t h, int64_t w, DType dtype,
                 uintptr_t stream) {
    require_device();
    auto* dst = reinterpret_cast<uint8_t*>(out);
    if (dtype == DType::f32) {
        const bool packed = aligned16(x) && wp % Pack<float>::N == 0;
        postprocess_kernel<float><<<row_grid(w, Pack<float>::N, h), kBlock, 0, as_stream(stream)>>>(
            reinterpret_cast<const float*>(x), hp, wp, dst, h, w, packed);
    } else {
        const bool packed = aligned16(x) && wp % Pack<uint16_t>::N == 0;
        postprocess_kernel<uint16_t><<<row_grid(w, Pack<uint16_t>::N, h), kBlock, 0, as_stream(stream)>>>(
            reinterpret_cast<const uint16_t*>(x), hp, wp, dst, h, w, packed);
    }
    check_launch("postprocess kernel launch");
}

void blend_accumulate(uintptr_t acc, uintptr_t wsum, int64_t channels, int64_t height, int64_t width, uintptr_t tile,
                      uintptr_t weight, int64_t th, int64_t tw, int64_t top, int64_t left, DType tile_dtype,
                      uintptr_t stream) {
    require_device();
    const dim3 grid = row_grid(tw, 1, th);
    auto* a = reinterpret_cast<float*>(acc);
    auto* s = reinterpret_cast<float*>(wsum);
    const auto* w = reinterpret_cast<const float*>(weight);
    if (tile_dtype == DType::f32) {
        blend_kernel<float><<<grid, kBlock, 0, as_stream(stream)>>>(a, s, channels, height, width,
                                                                    reinterpret_cast<const float*>(tile), w, th, tw,
                                                                    top, left);
    } else {
        blend_kernel<uint16_t><<<grid, kBlock, 0, as_stream(stream)>>>(a, s, channels, height, width,
                                                                       reinterpret_cast<const uint16_t*>(tile), w, th,
                                                                       tw, top, left);
    }
    check_launch("blend_accumulate kernel launch");
}

}  // namespace indi::cuda
