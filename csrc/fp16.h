// IEEE binary16 <-> binary32 conversion on raw bits (uint16_t), one definition for CPU and CUDA.
//
// Storage type for half precision everywhere in csrc/ is uint16_t holding the IEEE bits, so the
// CPU code needs no compiler _Float16 support and the loops stay plain integer/float selects
// that the compiler vectorises. On the device the hardware conversion is used; both round to
// nearest even and agree bit for bit (NaN payloads aside: NaN stays NaN).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define INDI_HD __host__ __device__ __forceinline__
#else
#define INDI_HD inline
#endif

namespace indi {

INDI_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
#endif
}

INDI_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
#endif
}

// Exact: every half is a float. Subnormal halves are rebuilt with one exact float subtraction.
INDI_HD float half_to_float(uint16_t h) {
#if defined(__CUDA_ARCH__)
    return __half2float(__ushort_as_half(h));
#else
    const uint32_t magnitude = static_cast<uint32_t>(h & 0x7fffu) << 13;
    const uint32_t exponent = magnitude & (0x1fu << 23);
    uint32_t u = magnitude + ((127u - 15u) << 23);
    if (exponent == (0x1fu << 23)) u += (128u - 16u) << 23;  // inf / NaN keep an all-ones exponent
    float f = bits_float(exponent == 0 ? u + (1u << 23) : u);
    if (exponent == 0) f -= bits_float(113u << 23);  // zero / subnormal: subtract the implicit 2^-14
    return bits_float(float_bits(f) | (static_cast<uint32_t>(h & 0x8000u) << 16));
#endif
}

// Round to nearest even; overflow gives inf, NaN gives a quiet NaN.
INDI_HD uint16_t float_to_half(float f) {
#if defined(__CUDA_ARCH__)
    return __half_as_ushort(__float2half_rn(f));
#else
    const uint32_t u = float_bits(f);
    const uint32_t sign = (u >> 16) & 0x8000u;
    const uint32_t a = u & 0x7fffffffu;
    uint32_t out;
    if (a >= (143u << 23)) {                         // |f| >= 65536: inf or NaN
        out = a > (255u << 23) ? 0x7e00u : 0x7c00u;
    } else if (a < (113u << 23)) {                   // result is subnormal or zero:
        // adding 0.5 aligns the 10 mantissa bits at the bottom; the FPU rounds to nearest even.
        out = float_bits(bits_float(a) + 0.5f) - float_bits(0.5f);
    } else {                                         // normal: rebias, round half to even by hand
        const uint32_t odd = (a >> 13) & 1u;
        out = (a + ((15u - 127u) << 23) + 0xfffu + odd) >> 13;
    }
    return static_cast<uint16_t>(out | sign);
#endif
}

}  // namespace indi
