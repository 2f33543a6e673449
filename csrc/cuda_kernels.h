// CUDA launchers on raw device pointers (uintptr_t) and a stream handle (cudaStream_t as an
// integer; 0 is the legacy default stream), so any framework's buffers can be passed. Host-only
// declarations: this header needs no CUDA headers. Each launcher throws std::runtime_error when no
// device is visible or the launch fails; it does not synchronise the stream.
#pragma once

#include <cstdint>
#include <string>

#include "indi_math.h"

namespace indi::cuda {

enum class DType { f32, f16 };  // element type of the float buffers (half: IEEE binary16)

bool available();          // at least one device is visible to the runtime
std::string device_info();  // "<name> (sm_XY), runtime R, driver D" or why there is none
std::string built_archs();  // the -gencode targets this module was compiled for

void update(Sampler sampler, bool noise, const UpdateCoeffs& c, uintptr_t x, uintptr_t x0, uintptr_t y,
            uintptr_t z, uintptr_t out, int64_t n, DType dtype, uintptr_t stream);

void preprocess(uintptr_t frame, int64_t h, int64_t w, uintptr_t out, int64_t hp, int64_t wp, DType dtype,
                uintptr_t stream);

void postprocess(uintptr_t x, int64_t hp, int64_t wp, uintptr_t out, int64_t h, int64_t w, DType dtype,
                 uintptr_t stream);

void blend_accumulate(uintptr_t acc, uintptr_t wsum, int64_t channels, int64_t height, int64_t width,
                      uintptr_t tile, uintptr_t weight, int64_t th, int64_t tw, int64_t top, int64_t left,
                      DType tile_dtype, uintptr_t stream);

}  // namespace indi::cuda
