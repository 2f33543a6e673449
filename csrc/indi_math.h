// The per-element math of indi_edge, one definition shared by the CPU loops and the CUDA kernels.
//
// Every rounding is spelled out (mul_rn / add_rn / sub_rn) so that no compiler fuses a multiply and
// an add into an FMA: the CPU build adds -ffp-contract=off, and on the device __fmul_rn/__fadd_rn are
// never contracted. The results are then bit-identical to numpy's float32 ufuncs, which round after
// every operation (indi_edge.sampling.apply_step is the reference).
#pragma once

#include <cstdint>

#include "fp16.h"

namespace indi {

INDI_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

INDI_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

INDI_HD float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fsub_rn(a, b);
#else
    return a - b;
#endif
}

// Element storage: float, or uint16_t holding IEEE half bits. Arithmetic is always in float.
INDI_HD float load_float(float v) { return v; }
INDI_HD float load_float(uint16_t h) { return half_to_float(h); }
template <class T> INDI_HD T store_float(float v);
template <> INDI_HD float store_float<float>(float v) { return v; }
template <> INDI_HD uint16_t store_float<uint16_t>(float v) { return float_to_half(v); }

// --- InDI update --------------------------------------------------------------------------------

enum class Sampler : int { indi = 0, naive = 1, cold = 2 };

// Scalars of one step, already cast to float. apply_step computes them in Python (float64) and numpy
// casts each to float32 once (NEP 50 weak scalars), so they are built on the host in double.
struct UpdateCoeffs {
    float a;      // indi: d/t on F      naive: 1-t+d on F     cold: d
    float b;      // indi: 1-d/t on x    naive: t-d on y       cold: unused
    float noise;  // noise_std, applied as + noise * z only when the step has noise
};

inline UpdateCoeffs update_coeffs(Sampler sampler, double t, double d, double noise_std) {
    switch (sampler) {
        case Sampler::indi: return {static_cast<float>(d / t), static_cast<float>(1.0 - d / t), static_cast<float>(noise_std)};
        case Sampler::naive: return {static_cast<float>(1.0 - t + d), static_cast<float>(t - d), static_cast<float>(noise_std)};
        case Sampler::cold: return {static_cast<float>(d), 0.0f, static_cast<float>(noise_std)};
    }
    return {0.0f, 0.0f, 0.0f};
}

// x_{t-d} for one element, in apply_step's order of operations:
//   indi  (d/t)*F + (1-d/t)*x      naive (1-t+d)*F + (t-d)*y      cold x + d*(F - y)
// then + noise_std*z when Noise. Inputs the sampler does not use are never read by callers.
template <Sampler S, bool Noise>
INDI_HD float update_value(const UpdateCoeffs& c, float x, float x0, float y, float z) {
    float r;
    if (S == Sampler::indi) {
        r = add_rn(mul_rn(c.a, x0), mul_rn(c.b, x));
    } else if (S == Sampler::naive) {
        r = add_rn(mul_rn(c.a, x0), mul_rn(c.b, y));
    } else {
        r = add_rn(x, mul_rn(c.a, sub_rn(x0, y)));
    }
    return Noise ? add_rn(r, mul_rn(c.noise, z)) : r;
}

// --- frame conversion ---------------------------------------------------------------------------

// float32(2/255), as numpy makes it from the Python float 2/255.
constexpr float kByteToUnit = static_cast<float>(2.0 / 255.0);

// uint8 v -> v * float32(2/255) - 1, in [-1, 1].
INDI_HD float byte_to_unit(uint8_t v) { return sub_rn(mul_rn(static_cast<float>(v), kByteToUnit), 1.0f); }

// x in [-1, 1] -> clip(rint((x + 1) * 127.5), 0, 255): round half to even, NaN -> 0.
// Clamping before rounding gives the same result (0 and 255 are integers, rint is monotone);
// adding and subtracting 1.5*2^23 rounds any float in [0, 2^22] to nearest even in float
// arithmetic, without a libm call, so the CPU loop vectorises.
INDI_HD uint8_t unit_to_byte(float x) {
    float v = mul_rn(add_rn(x, 1.0f), 127.5f);
    v = v > 0.0f ? v : 0.0f;  // also maps NaN to 0
    v = v < 255.0f ? v : 255.0f;
    const float rounded = sub_rn(add_rn(v, 12582912.0f), 12582912.0f);
    return static_cast<uint8_t>(static_cast<int>(rounded));
}

// Reflect-101 index into [0, n) (np.pad mode="reflect", cv2.BORDER_REFLECT_101) for i >= 0,
// periodic with period 2n-2 so pads longer than the image keep reflecting.
INDI_HD int64_t reflect101(int64_t i, int64_t n) {
    if (n == 1) return 0;
    const int64_t period = 2 * n - 2;
    i %= period;
    return i < n ? i : period - i;
}

// --- tile blending ------------------------------------------------------------------------------

// acc += w * tile (one element), rounded like numpy's `acc += weight * tile`.
INDI_HD float blend_value(float acc, float w, float tile) { return add_rn(acc, mul_rn(w, tile)); }

}  // namespace indi
