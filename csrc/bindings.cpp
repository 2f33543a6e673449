// pybind11 module indi_edge._core: numpy entry points (no copies: buffers are checked, then used
// in place with the GIL released) and CUDA entry points on raw device pointers.
// indi_edge/ops.py is the public face; it validates too and falls back to numpy without this module.
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cpu_kernels.h"
#include "indi_math.h"
#include "parallel.h"
#if defined(INDI_EDGE_WITH_CUDA)
#include "cuda_kernels.h"
#endif

namespace py = pybind11;
using indi::Sampler;

namespace {

// --- checks on numpy arrays --------------------------------------------------------------------

enum class Elem { f32, f16, u8, other };

Elem elem(const py::array& a) {
    const py::dtype dt = a.dtype();
    if (dt.kind() == 'f' && dt.itemsize() == 4) return Elem::f32;
    if (dt.kind() == 'f' && dt.itemsize() == 2) return Elem::f16;
    if (dt.kind() == 'u' && dt.itemsize() == 1) return Elem::u8;
    return Elem::other;
}

std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t k = 0; k < a.ndim(); ++k) s += (k ? ", " : "") + std::to_string(a.shape(k));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

std::string describe(const py::array& a) { return std::string(py::str(a.dtype())) + " array of shape " + shape_str(a); }

void require_layout(const py::array& a, const std::string& name, bool writeable) {
    if (!(a.flags() & py::array::c_style)) {
        throw py::value_error(name + " must be C-contiguous (np.ascontiguousarray), got a strided " + describe(a));
    }
    if (writeable && !a.writeable()) throw py::value_error(name + " must be writeable");
}

void require_elem(const py::array& a, const std::string& name, Elem want, const char* expected) {
    if (elem(a) != want) throw py::type_error(name + " must be " + expected + ", got " + describe(a));
}

Elem require_float(const py::array& a, const std::string& name) {
    const Elem e = elem(a);
    if (e != Elem::f32 && e != Elem::f16) throw py::type_error(name + " must be float32 or float16, got " + describe(a));
    return e;
}

bool same_shape(const py::array& a, const py::array& b) {
    if (a.ndim() != b.ndim()) return false;
    for (py::ssize_t k = 0; k < a.ndim(); ++k) {
        if (a.shape(k) != b.shape(k)) return false;
    }
    return true;
}

// out may be an input exactly (in place) but must not overlap one partially.
void require_no_partial_overlap(const py::array& out, const py::array& in, const std::string& in_name) {
    const auto o = reinterpret_cast<uintptr_t>(out.data());
    const auto i = reinterpret_cast<uintptr_t>(in.data());
    const auto ob = static_cast<uintptr_t>(out.nbytes()), ib = static_cast<uintptr_t>(in.nbytes());
    if (o != i && o < i + ib && i < o + ob) throw py::value_error("out overlaps " + in_name + " partially");
}

Sampler parse_sampler(const std::string& name) {
    if (name == "indi") return Sampler::indi;
    if (name == "naive") return Sampler::naive;
    if (name == "cold") return Sampler::cold;
    throw py::value_error("sampler must be one of ('indi', 'naive', 'cold'), got '" + name + "'");
}

// The step's scalars: finite, t != 0 for InDI (d/t), noise_std >= 0 and z given when it is > 0.
void check_step(Sampler sampler, double t, double d, double noise_std, bool has_z) {
    if (!std::isfinite(t) || !std::isfinite(d) || !std::isfinite(noise_std)) {
        throw py::value_error("t, d and noise_std must be finite");
    }
    if (sampler == Sampler::indi && t == 0.0) throw py::value_error("the indi sampler divides by t: t must be != 0");
    if (noise_std < 0.0) throw py::value_error("noise_std must be >= 0, got " + std::to_string(noise_std));
    if (noise_std > 0.0 && !has_z) throw py::value_error("noise_std > 0 needs the noise z");
}

// [1, 3, H, W] or [3, H, W] float planes: returns {H, W}.
std::pair<int64_t, int64_t> planes_hw(const py::array& a, const std::string& name) {
    const bool batch1 = a.ndim() == 4 && a.shape(0) == 1;
    if (!((a.ndim() == 3 || batch1) && a.shape(a.ndim() - 3) == 3)) {
        throw py::value_error(name + " must have shape [1, 3, H, W] or [3, H, W], got " + shape_str(a));
    }
    return {a.shape(a.ndim() - 2), a.shape(a.ndim() - 1)};
}

std::pair<int64_t, int64_t> frame_hw(const py::array& a, const std::string& name) {
    if (a.ndim() != 3 || a.shape(2) != 3 || a.shape(0) < 1 || a.shape(1) < 1) {
        throw py::value_error(name + " must have shape [H, W, 3] with H, W >= 1, got " + shape_str(a));
    }
    return {a.shape(0), a.shape(1)};
}

template <class T>
const T* cptr(const py::array& a) { return static_cast<const T*>(a.data()); }
template <class T>
T* mptr(py::array& a) { return static_cast<T*>(a.mutable_data()); }

// --- numpy entry points ---------------------------------------------------------------------------

void update(const std::string& sampler_name, const py::array& x, const py::array& x0, std::optional<py::array> y,
            std::optional<py::array> z, py::array out, double t, double d, double noise_std) {
    const Sampler sampler = parse_sampler(sampler_name);
    check_step(sampler, t, d, noise_std, z.has_value());
    const bool noise = noise_std > 0.0;
    if (sampler != Sampler::indi && !y) throw py::value_error("the " + sampler_name + " sampler needs y");
    const Elem e = require_float(x, "x");
    std::vector<std::pair<const py::array*, std::string>> inputs = {{&x, "x"}, {&x0, "x0"}};
    if (sampler != Sampler::indi) inputs.emplace_back(&*y, "y");
    if (noise) inputs.emplace_back(&*z, "z");
    for (const auto& [a, name] : inputs) {
        if (elem(*a) != e) throw py::type_error(name + " must have x's dtype " + describe(x) + ", got " + describe(*a));
        if (!same_shape(*a, x)) throw py::value_error(name + " must have x's shape " + shape_str(x) + ", got " + shape_str(*a));
        require_layout(*a, name, false);
        require_no_partial_overlap(out, *a, name);
    }
    if (elem(out) != e || !same_shape(out, x)) throw py::value_error("out must match x: " + describe(x) + ", got " + describe(out));
    require_layout(out, "out", true);

    const auto c = indi::update_coeffs(sampler, t, d, noise_std);
    const int64_t n = x.size();
    const void* yp = sampler != Sampler::indi ? y->data() : nullptr;
    const void* zp = noise ? z->data() : nullptr;
    void* op = out.mutable_data();
    py::gil_scoped_release release;
    if (e == Elem::f32) {
        indi::cpu::update(sampler, noise, c, cptr<float>(x), cptr<float>(x0), static_cast<const float*>(yp),
                          static_cast<const float*>(zp), static_cast<float*>(op), n);
    } else {
        indi::cpu::update(sampler, noise, c, cptr<uint16_t>(x), cptr<uint16_t>(x0), static_cast<const uint16_t*>(yp),
                          static_cast<const uint16_t*>(zp), static_cast<uint16_t*>(op), n);
    }
}

void preprocess(const py::array& frame, py::array out) {
    require_elem(frame, "frame", Elem::u8, "uint8");
    const auto [h, w] = frame_hw(frame, "frame");
    require_layout(frame, "frame", false);
    const Elem e = require_float(out, "out");
    const auto [hp, wp] = planes_hw(out, "out");
    if (hp < h || wp < w) throw py::value_error("out " + shape_str(out) + " is smaller than frame " + shape_str(frame));
    require_layout(out, "out", true);
    const auto* src = cptr<uint8_t>(frame);
    void* dst = out.mutable_data();
    py::gil_scoped_release release;
    if (e == Elem::f32) {
        indi::cpu::preprocess(src, h, w, static_cast<float*>(dst), hp, wp);
    } else {
        indi::cpu::preprocess(src, h, w, static_cast<uint16_t*>(dst), hp, wp);
    }
}

void postprocess(const py::array& x, py::array out) {
    const Elem e = require_float(x, "x");
    const auto [hp, wp] = planes_hw(x, "x");
    require_layout(x, "x", false);
    require_elem(out, "out", Elem::u8, "uint8");
    const auto [h, w] = frame_hw(out, "out");
    if (h > hp || w > wp) throw py::value_error("out " + shape_str(out) + " is larger than x " + shape_str(x));
    require_layout(out, "out", true);
    auto* dst = mptr<uint8_t>(out);
    py::gil_scoped_release release;
    if (e == Elem::f32) {
        indi::cpu::postprocess(cptr<float>(x), hp, wp, dst, h, w);
    } else {
        indi::cpu::postprocess(cptr<uint16_t>(x), hp, wp, dst, h, w);
    }
}

void blend_accumulate(py::array acc, py::array wsum, const py::array& tile, const py::array& weight, int64_t top,
                      int64_t left) {
    require_elem(acc, "acc", Elem::f32, "float32");
    require_elem(wsum, "wsum", Elem::f32, "float32");
    require_elem(weight, "weight", Elem::f32, "float32");
    const Elem e = require_float(tile, "tile");
    if (acc.ndim() != 3 || wsum.ndim() != 2 || tile.ndim() != 3 || weight.ndim() != 2) {
        throw py::value_error("expected acc [C, H, W], wsum [H, W], tile [C, h, w], weight [h, w]; got " +
                              shape_str(acc) + ", " + shape_str(wsum) + ", " + shape_str(tile) + ", " + shape_str(weight));
    }
    const int64_t channels = acc.shape(0), height = acc.shape(1), width = acc.shape(2);
    const int64_t th = tile.shape(1), tw = tile.shape(2);
    if (wsum.shape(0) != height || wsum.shape(1) != width || tile.shape(0) != channels || weight.shape(0) != th ||
        weight.shape(1) != tw) {
        throw py::value_error("shapes disagree: acc " + shape_str(acc) + ", wsum " + shape_str(wsum) + ", tile " +
                              shape_str(tile) + ", weight " + shape_str(weight));
    }
    if (top < 0 || left < 0 || top + th > height || left + tw > width) {
        throw py::value_error("tile " + shape_str(tile) + " at (" + std::to_string(top) + ", " + std::to_string(left) +
                              ") does not fit in acc " + shape_str(acc));
    }
    require_layout(acc, "acc", true);
    require_layout(wsum, "wsum", true);
    require_layout(tile, "tile", false);
    require_layout(weight, "weight", false);
    float* a = mptr<float>(acc);
    float* s = mptr<float>(wsum);
    const float* w = cptr<float>(weight);
    py::gil_scoped_release release;
    if (e == Elem::f32) {
        indi::cpu::blend_accumulate(a, s, channels, height, width, cptr<float>(tile), w, th, tw, top, left);
    } else {
        indi::cpu::blend_accumulate(a, s, channels, height, width, cptr<uint16_t>(tile), w, th, tw, top, left);
    }
}

// --- CUDA entry points -----------------------------------------------------------------------------

#if defined(INDI_EDGE_WITH_CUDA)
constexpr bool kCudaBuilt = true;

indi::cuda::DType parse_dtype(const std::string& name) {
    if (name == "float32") return indi::cuda::DType::f32;
    if (name == "float16") return indi::cuda::DType::f16;
    throw py::value_error("dtype must be 'float32' or 'float16', got '" + name + "'");
}

void require_ptr(uintptr_t p, const char* name) {
    if (p == 0) throw py::value_error(std::string(name) + " is a null device pointer");
}

void require_sizes(std::initializer_list<int64_t> sizes, const char* what) {
    for (const int64_t s : sizes) {
        if (s < 0) throw py::value_error(std::string(what) + " must be >= 0");
    }
}

void cuda_update(const std::string& sampler_name, uintptr_t x, uintptr_t x0, uintptr_t y, uintptr_t z, uintptr_t out,
                 int64_t n, const std::string& dtype, double t, double d, double noise_std, uintptr_t stream) {
    const Sampler sampler = parse_sampler(sampler_name);
    check_step(sampler, t, d, noise_std, z != 0);
    const auto dt = parse_dtype(dtype);
    require_sizes({n}, "n");
    require_ptr(x, "x");
    require_ptr(x0, "x0");
    require_ptr(out, "out");
    if (sampler != Sampler::indi) require_ptr(y, "y");
    const auto c = indi::update_coeffs(sampler, t, d, noise_std);
    py::gil_scoped_release release;
    indi::cuda::update(sampler, noise_std > 0.0, c, x, x0, y, z, out, n, dt, stream);
}

void cuda_preprocess(uintptr_t frame, uintptr_t out, int64_t height, int64_t width, int64_t out_height,
                     int64_t out_width, const std::string& dtype, uintptr_t stream) {
    const auto dt = parse_dtype(dtype);
    require_ptr(frame, "frame");
    require_ptr(out, "out");
    if (height < 1 || width < 1 || out_height < height || out_width < width) {
        throw py::value_error("need 1 <= height <= out_height and 1 <= width <= out_width");
    }
    py::gil_scoped_release release;
    indi::cuda::preprocess(frame, height, width, out, out_height, out_width, dt, stream);
}

void cuda_postprocess(uintptr_t x, uintptr_t out, int64_t in_height, int64_t in_width, int64_t height, int64_t width,
                      const std::string& dtype, uintptr_t stream) {
    const auto dt = parse_dtype(dtype);
    require_ptr(x, "x");
    require_ptr(out, "out");
    if (height < 1 || width < 1 || height > in_height || width > in_width) {
        throw py::value_error("need 1 <= height <= in_height and 1 <= width <= in_width");
    }
    py::gil_scoped_release release;
    indi::cuda::postprocess(x, in_height, in_width, out, height, width, dt, stream);
}

void cuda_blend_accumulate(uintptr_t acc, uintptr_t wsum, uintptr_t tile, uintptr_t weight, int64_t channels,
                           int64_t height, int64_t width, int64_t tile_height, int64_t tile_width, int64_t top,
                           int64_t left, const std::string& tile_dtype, uintptr_t stream) {
    const auto dt = parse_dtype(tile_dtype);
    for (const auto& [p, name] : {std::pair{acc, "acc"}, {wsum, "wsum"}, {tile, "tile"}, {weight, "weight"}}) {
        require_ptr(p, name);
    }
    require_sizes({channels, height, width, tile_height, tile_width}, "sizes");
    if (top < 0 || left < 0 || top + tile_height > height || left + tile_width > width) {
        throw py::value_error("the tile does not fit in acc at (top, left)");
    }
    py::gil_scoped_release release;
    indi::cuda::blend_accumulate(acc, wsum, channels, height, width, tile, weight, tile_height, tile_width, top, left,
                                 dt, stream);
}

bool cuda_available() { return indi::cuda::available(); }
std::string cuda_device_info() { return indi::cuda::device_info(); }
std::string cuda_archs() { return indi::cuda::built_archs(); }
#else
constexpr bool kCudaBuilt = false;

[[noreturn]] void no_cuda() {
    throw std::runtime_error("indi_edge._core was built without CUDA (INDI_EDGE_CUDA=OFF or no nvcc at build time)");
}
void cuda_update(const std::string&, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, int64_t,
                 const std::string&, double, double, double, uintptr_t) { no_cuda(); }
void cuda_preprocess(uintptr_t, uintptr_t, int64_t, int64_t, int64_t, int64_t, const std::string&, uintptr_t) { no_cuda(); }
void cuda_postprocess(uintptr_t, uintptr_t, int64_t, int64_t, int64_t, int64_t, const std::string&, uintptr_t) { no_cuda(); }
void cuda_blend_accumulate(uintptr_t, uintptr_t, uintptr_t, uintptr_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                           int64_t, int64_t, const std::string&, uintptr_t) { no_cuda(); }
bool cuda_available() { return false; }
std::string cuda_device_info() { return "built without CUDA"; }
std::string cuda_archs() { return ""; }
#endif

py::dict build_info() {
    py::dict info;
    info["cuda"] = kCudaBuilt;
    info["cuda_archs"] = cuda_archs();
#if defined(__VERSION__)
    info["compiler"] = __VERSION__;
#endif
    info["fp_contract"] = "off";
    return info;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "Native kernels of indi_edge (private: use indi_edge.ops).";
    using py::arg;
    m.def("update", &update, arg("sampler"), arg("x"), arg("x0"), arg("y"), arg("z"), arg("out"), arg("t"), arg("d"),
          arg("noise_std"));
    m.def("preprocess", &preprocess, arg("frame"), arg("out"));
    m.def("postprocess", &postprocess, arg("x"), arg("out"));
    m.def("blend_accumulate", &blend_accumulate, arg("acc"), arg("wsum"), arg("tile"), arg("weight"), arg("top"),
          arg("left"));
    m.def("set_num_threads", &indi::set_num_threads, arg("n"));
    m.def("get_num_threads", &indi::num_threads);
    m.def("build_info", &build_info);
    m.def("cuda_available", &cuda_available);
    m.def("cuda_device_info", &cuda_device_info);
    m.def("cuda_update", &cuda_update, arg("sampler"), arg("x"), arg("x0"), arg("y"), arg("z"), arg("out"), arg("n"),
          arg("dtype"), arg("t"), arg("d"), arg("noise_std") = 0.0, arg("stream") = 0);
    m.def("cuda_preprocess", &cuda_preprocess, arg("frame"), arg("out"), arg("height"), arg("width"),
          arg("out_height"), arg("out_width"), arg("dtype") = "float32", arg("stream") = 0);
    m.def("cuda_postprocess", &cuda_postprocess, arg("x"), arg("out"), arg("in_height"), arg("in_width"),
          arg("height"), arg("width"), arg("dtype") = "float32", arg("stream") = 0);
    m.def("cuda_blend_accumulate", &cuda_blend_accumulate, arg("acc"), arg("wsum"), arg("tile"), arg("weight"),
          arg("channels"), arg("height"), arg("width"), arg("tile_height"), arg("tile_width"), arg("top"),
          arg("left"), arg("tile_dtype") = "float32", arg("stream") = 0);
}
