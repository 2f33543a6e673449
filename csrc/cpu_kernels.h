// CPU kernels on raw, C-contiguous buffers. Callers (bindings.cpp) check dtypes, shapes and
// contiguity; these only loop. T is float or uint16_t (IEEE half bits); arithmetic is float.
#pragma once

#include <cstdint>

#include "indi_math.h"

namespace indi::cpu {

// out[i] = update_value(x[i], x0[i], y[i], z[i]) for i < n. out may be one of the inputs
// (same pointer); y is read only by naive/cold, z only when `noise`.
template <class T>
void update(Sampler sampler, bool noise, const UpdateCoeffs& c, const T* x, const T* x0, const T* y,
            const T* z, T* out, int64_t n);

// frame uint8 [h, w, 3] BGR -> out [3, hp, wp] RGB in [-1, 1]; rows/cols past h/w reflect-101.
template <class T>
void preprocess(const uint8_t* frame, int64_t h, int64_t w, T* out, int64_t hp, int64_t wp);

// x [3, hp, wp] RGB -> out uint8 [h, w, 3] BGR from the top-left h x w crop (h <= hp, w <= wp).
template <class T>
void postprocess(const T* x, int64_t hp, int64_t wp, uint8_t* out, int64_t h, int64_t w);

// acc [channels, height, width] += weight[None] * tile at (top, left); wsum [height, width] += weight.
// tile [channels, th, tw], weight [th, tw]; the caller checks the tile lies inside.
template <class T>
void blend_accumulate(float* acc, float* wsum, int64_t channels, int64_t height, int64_t width, const T* tile,
                      const float* weight, int64_t th, int64_t tw, int64_t top, int64_t left);

}  // namespace indi::cpu
