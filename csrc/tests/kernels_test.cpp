// Bit-exact test of the CPU kernels (cpu_kernels.cpp), standalone: no pybind11, no Python.
//
// Every kernel runs on small deterministic inputs; the bytes of each output are reduced to a 64-bit
// FNV-1a hash plus four sample words and compared with kernels_reference.h, generated on x86-64.
// Run on another architecture (aarch64 under qemu in .ci/aarch64_check.sh) it checks that the
// kernels give the same bits there. Each check runs on 1 thread and on 4 (parallel_for splits the
// work), and the updates also in place (out == x), all against the same reference.
//
//   kernels_test                        run the checks; prints "N passed, M failed", exit 1 on failure
//   kernels_test --write-reference P    write the reference header to P (after checking that all
//                                       variants of each check agree)
//
// Build (what .ci/aarch64_check.sh does, with the kernels' flags from csrc/CMakeLists.txt):
//   g++ -std=c++17 -O3 -ffp-contract=off -fno-trapping-math -fopenmp-simd -pthread -Icsrc
//       csrc/tests/kernels_test.cpp csrc/cpu_kernels.cpp -o kernels_test
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cpu_kernels.h"
#include "parallel.h"

struct ReferenceEntry {
    const char* name;
    uint64_t bytes;
    uint64_t fnv1a;
    uint32_t words[4];
};

// Missing only while the very first reference is being written.
#if __has_include("kernels_reference.h")
#include "kernels_reference.h"
#else
static const ReferenceEntry kReference[] = {{"", 0, 0, {0, 0, 0, 0}}};
#endif

namespace {

using indi::Sampler;

// --- deterministic inputs: integer arithmetic only, so every platform makes the same bits ---------

struct Lcg {
    uint64_t state;
    uint32_t next() {  // Knuth's MMIX constants; the high half is the better half.
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<uint32_t>(state >> 32);
    }
};

float from_bits(uint32_t u) { return indi::bits_float(u); }

// Mostly image-like values in [-1.5, 1.5) on a 2^-20 grid (exact int -> float conversions); every
// fourth an arbitrary finite float (subnormals and huge values included).
float some_float(Lcg& rng, int64_t i) {
    if (i % 4 == 3) {
        uint32_t u = rng.next();
        if (((u >> 23) & 0xffu) == 0xffu) u &= ~(1u << 30);  // inf/NaN exponent -> finite
        return from_bits(u);
    }
    return static_cast<float>(static_cast<int32_t>(rng.next() % 3145728u) - 1572864) * 0x1p-20f;
}

// Half bits: every third an arbitrary finite half (subnormals, +-0, 65504), the rest image-like.
uint16_t some_half(Lcg& rng, int64_t i) {
    if (i % 3 == 2) {
        uint16_t h = static_cast<uint16_t>(rng.next() >> 16);
        if ((h & 0x7c00u) == 0x7c00u) h &= 0xbfffu;  // inf/NaN exponent -> finite
        return h;
    }
    return indi::float_to_half(some_float(rng, 0));
}

template <class T> T some_value(Lcg& rng, int64_t i);
template <> float some_value<float>(Lcg& rng, int64_t i) { return some_float(rng, i); }
template <> uint16_t some_value<uint16_t>(Lcg& rng, int64_t i) { return some_half(rng, i); }

template <class T> std::vector<T> values(uint64_t seed, int64_t n) {
    Lcg rng{seed};
    std::vector<T> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = some_value<T>(rng, i);
    return v;
}

// Model outputs for postprocess: x = j/4096 - 1 puts (x + 1) * 127.5 = j * 255/8192 exactly in
// float, so some values land exactly on .5 and exercise round-half-to-even; plus out-of-range
// values, +-inf and NaN (-> 0). Each fifth value comes from the special list.
float model_output(Lcg& rng, int64_t i) {
    static const uint32_t special[] = {0x7fc00000u, 0xffc00001u, 0x7f800000u, 0xff800000u, 0x80000000u,
                                       0x00000001u, 0x7f7fffffu, 0x3f800001u, 0xbf800001u, 0x3fc00000u};
    if (i % 5 == 4) return from_bits(special[rng.next() % 10]);
    return static_cast<float>(static_cast<int32_t>(rng.next() % 9400u) - 600) * 0x1p-12f - 1.0f;
}

// --- results ------------------------------------------------------------------------------------

uint64_t fnv1a(const std::vector<uint8_t>& bytes) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ull;
    return h;
}

// Four little-endian words at 0, 1/4, 1/2, 3/4 of the buffer: on a failure they hint where it differs.
void sample_words(const std::vector<uint8_t>& bytes, uint32_t words[4]) {
    for (int k = 0; k < 4; ++k) {
        const size_t at = (bytes.size() / 4 * k / 4) * 4;
        words[k] = 0;
        for (size_t b = 0; b < 4 && at + b < bytes.size(); ++b) words[k] |= uint32_t{bytes[at + b]} << (8 * b);
    }
}

template <class T> void append(std::vector<uint8_t>& out, const std::vector<T>& v) {
    const size_t at = out.size();
    out.resize(at + v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(out.data() + at, v.data(), v.size() * sizeof(T));
}

struct Result {
    std::string name;
    std::vector<uint8_t> bytes;
};

// --- the checks ---------------------------------------------------------------------------------

// More than 2 * 2^16 elements so parallel_for (2^16 a thread at least) splits them; an odd tail
// so the vector loops run their scalar epilogue too.
constexpr int64_t kUpdateN = 3 * (int64_t{1} << 16) + 13;

const char* sampler_name(Sampler s) { return s == Sampler::indi ? "indi" : s == Sampler::naive ? "naive" : "cold"; }
template <class T> const char* type_name() { return sizeof(T) == 4 ? "f32" : "f16"; }

// The scalar coefficients (host double -> float), for the steps used below and a few more.
Result check_coeffs() {
    std::vector<float> c;
    const double steps[][3] = {{0.75, 0.25, 0.03}, {0.6, 0.2, 0.03}, {1.0, 0.1, 0.0}, {0.3, 0.1, 0.5}, {0.1, 0.1, 1e-3}};
    for (const Sampler s : {Sampler::indi, Sampler::naive, Sampler::cold}) {
        for (const auto& st : steps) {
            const indi::UpdateCoeffs k = indi::update_coeffs(s, st[0], st[1], st[2]);
            c.insert(c.end(), {k.a, k.b, k.noise});
        }
    }
    Result r{"update_coeffs", {}};
    append(r.bytes, c);
    return r;
}

indi::UpdateCoeffs step_coeffs(Sampler s) {
    // |a|, |b| < 1, so no product overflows and no inf - inf can make a NaN from finite inputs.
    switch (s) {
        case Sampler::indi: return indi::update_coeffs(s, 0.75, 0.25, 0.03);
        case Sampler::naive: return indi::update_coeffs(s, 0.6, 0.2, 0.03);
        case Sampler::cold: break;
    }
    return indi::update_coeffs(s, 0.3, 0.2, 0.03);
}

template <class T>
Result check_update(Sampler s, bool noise, bool in_place) {
    const int64_t n = kUpdateN;
    std::vector<T> x = values<T>(11, n), x0 = values<T>(12, n), y = values<T>(13, n), z = values<T>(14, n);
    std::vector<T> out(static_cast<size_t>(n));
    T* dst = in_place ? x.data() : out.data();
    indi::cpu::update<T>(s, noise, step_coeffs(s), x.data(), x0.data(), y.data(), z.data(), dst, n);
    Result r{std::string("update/") + sampler_name(s) + (noise ? "/noise/" : "/plain/") + type_name<T>(), {}};
    append(r.bytes, in_place ? x : out);
    return r;
}

// Every combination of NaNs (quiet, signalling, negative), infinities, zeros, extremes and
// subnormals in x, x0, y, z: inf - inf and 0 * inf make new NaNs here.
//
// Not bit-exact across architectures, for a genuine reason: IEEE 754 leaves a NaN's sign and payload
// to the implementation, and x86 and aarch64 differ (seen under qemu). A NaN made by an invalid
// operation is 0xffc00000 on x86 and 0x7fc00000 on aarch64, which float_to_half keeps as 0xfe00 vs
// 0x7e00; with two NaN operands x86 returns the first source operand's NaN while aarch64 prefers a
// signalling one, so another payload comes out. So only the NaNs' bits are left out: NaNs are made
// canonical before hashing (which elements are NaN is still checked), every other value is
// compared bit for bit.
template <class T>
Result check_update_specials(Sampler s, bool noise) {
    static const uint32_t f32[] = {0x7fc00000u, 0xffc12345u, 0x7f800001u, 0x7f800000u, 0xff800000u, 0x00000000u,
                                   0x80000000u, 0x7f7fffffu, 0xff7fffffu, 0x00000001u, 0x3f800000u, 0xc0600000u};
    static const uint16_t f16[] = {0x7e00u, 0xfe01u, 0x7c01u, 0x7c00u, 0xfc00u, 0x0000u,
                                   0x8000u, 0x7bffu, 0xfbffu, 0x0001u, 0x3c00u, 0xc300u};
    constexpr int64_t k = 12, n = k * k * k * k;
    std::vector<T> x(n), x0(n), y(n), z(n), out(n);
    for (int64_t i = 0; i < n; ++i) {
        const int64_t a = i % k, b = i / k % k, c = i / (k * k) % k, d = i / (k * k * k);
        if constexpr (sizeof(T) == 4) {
            x[i] = from_bits(f32[a]), x0[i] = from_bits(f32[b]), y[i] = from_bits(f32[c]), z[i] = from_bits(f32[d]);
        } else {
            x[i] = f16[a], x0[i] = f16[b], y[i] = f16[c], z[i] = f16[d];
        }
    }
    indi::cpu::update<T>(s, noise, step_coeffs(s), x.data(), x0.data(), y.data(), z.data(), out.data(), n);
    for (T& v : out) {
        if constexpr (sizeof(T) == 4) {
            if (v != v) v = from_bits(0x7fc00000u);
        } else {
            if ((v & 0x7c00u) == 0x7c00u && (v & 0x03ffu) != 0) v = 0x7e00u;
        }
    }
    Result r{std::string("update_specials/") + sampler_name(s) + (noise ? "/noise/" : "/plain/") + type_name<T>(), {}};
    append(r.bytes, out);
    return r;
}

// BGR uint8 [h, w, 3] -> RGB [3, hp, wp], reflect-101 padding.
template <class T>
Result check_preprocess(int64_t h, int64_t w, int64_t hp, int64_t wp) {
    Lcg rng{static_cast<uint64_t>(h * 1000 + w)};
    std::vector<uint8_t> frame(static_cast<size_t>(h * w * 3));
    for (uint8_t& b : frame) b = static_cast<uint8_t>(rng.next() >> 24);
    std::vector<T> out(static_cast<size_t>(3 * hp * wp));
    indi::cpu::preprocess<T>(frame.data(), h, w, out.data(), hp, wp);
    Result r{"preprocess/" + std::to_string(h) + "x" + std::to_string(w) + "->" + std::to_string(hp) + "x" +
                 std::to_string(wp) + "/" + type_name<T>(),
             {}};
    append(r.bytes, out);
    return r;
}

// RGB [3, hp, wp] -> BGR uint8 [h, w, 3] (top-left crop), round half to even, clipped.
template <class T>
Result check_postprocess(int64_t hp, int64_t wp, int64_t h, int64_t w) {
    Lcg rng{static_cast<uint64_t>(hp * 7919 + wp)};
    std::vector<T> x(static_cast<size_t>(3 * hp * wp));
    for (size_t i = 0; i < x.size(); ++i) {
        const float v = model_output(rng, static_cast<int64_t>(i));
        if constexpr (sizeof(T) == 4) {
            x[i] = v;
        } else {
            x[i] = indi::float_to_half(v);
        }
    }
    std::vector<uint8_t> out(static_cast<size_t>(h * w * 3));
    indi::cpu::postprocess<T>(x.data(), hp, wp, out.data(), h, w);
    Result r{"postprocess/" + std::to_string(hp) + "x" + std::to_string(wp) + "->" + std::to_string(h) + "x" +
                 std::to_string(w) + "/" + type_name<T>(),
             {}};
    r.bytes = out;
    return r;
}

// Two overlapping tiles blended into acc [3, 240, 100] and wsum [240, 100]; 200 rows of 64 make
// parallel_for split the rows.
template <class T>
Result check_blend() {
    constexpr int64_t channels = 3, height = 240, width = 100, th = 200, tw = 64;
    std::vector<float> acc = values<float>(21, channels * height * width);
    std::vector<float> wsum(static_cast<size_t>(height * width));
    Lcg rng{22};
    for (float& v : wsum) v = static_cast<float>(rng.next() % 1024u) * 0x1p-10f;
    std::vector<float> weight(static_cast<size_t>(th * tw));
    for (float& v : weight) v = static_cast<float>(rng.next() % 1000u + 1u) * 1e-3f;  // (0, 1], rounded
    const std::vector<T> tile1 = values<T>(23, channels * th * tw), tile2 = values<T>(24, channels * th * tw);
    indi::cpu::blend_accumulate<T>(acc.data(), wsum.data(), channels, height, width, tile1.data(), weight.data(), th,
                                   tw, 10, 7);
    indi::cpu::blend_accumulate<T>(acc.data(), wsum.data(), channels, height, width, tile2.data(), weight.data(), th,
                                   tw, 40, 36);
    Result r{std::string("blend_accumulate/") + type_name<T>(), {}};
    append(r.bytes, acc);
    append(r.bytes, wsum);
    return r;
}

// fp16.h on its own: every half -> float, and floats strided over all 2^32 bit patterns -> half.
Result check_half_to_float() {
    std::vector<float> out(65536);
    for (uint32_t h = 0; h < 65536; ++h) out[h] = indi::half_to_float(static_cast<uint16_t>(h));
    Result r{"fp16/half_to_float/all", {}};
    append(r.bytes, out);
    return r;
}

Result check_float_to_half() {
    std::vector<uint16_t> out;
    for (uint64_t u = 0; u < (uint64_t{1} << 32); u += 4099) out.push_back(indi::float_to_half(from_bits(static_cast<uint32_t>(u))));
    // Exact ties around the normal/subnormal boundary and the overflow threshold.
    for (const uint32_t u : {0x387fe000u, 0x387ff000u, 0x33000000u, 0x33000001u, 0x477fefffu, 0x477ff000u, 0x477ff001u}) {
        out.push_back(indi::float_to_half(from_bits(u)));
        out.push_back(indi::float_to_half(from_bits(u | 0x80000000u)));
    }
    Result r{"fp16/float_to_half/sweep", {}};
    append(r.bytes, out);
    return r;
}

// All checks, run with `threads` worker threads. The in-place updates only with several threads.
std::vector<Result> run_all(int threads) {
    indi::set_num_threads(threads);
    std::vector<Result> results;
    results.push_back(check_coeffs());
    results.push_back(check_half_to_float());
    results.push_back(check_float_to_half());
    for (const Sampler s : {Sampler::indi, Sampler::naive, Sampler::cold}) {
        for (const bool noise : {false, true}) {
            results.push_back(check_update<float>(s, noise, false));
            results.push_back(check_update<uint16_t>(s, noise, false));
            if (threads > 1) {
                results.push_back(check_update<float>(s, noise, true));
                results.push_back(check_update<uint16_t>(s, noise, true));
                results[results.size() - 2].name += " (in place)";
                results.back().name += " (in place)";
            }
            results.push_back(check_update_specials<float>(s, noise));
            results.push_back(check_update_specials<uint16_t>(s, noise));
        }
    }
    // Threaded rows; a pad longer than the image (reflection wraps); one-row and one-pixel frames.
    const int64_t pre[][4] = {{250, 181, 256, 192}, {3, 2, 11, 9}, {1, 5, 4, 8}, {1, 1, 2, 3}};
    for (const auto& p : pre) {
        results.push_back(check_preprocess<float>(p[0], p[1], p[2], p[3]));
        results.push_back(check_preprocess<uint16_t>(p[0], p[1], p[2], p[3]));
    }
    // Threaded rows; rows longer than postprocess's 512-pixel chunk.
    const int64_t post[][4] = {{256, 192, 250, 181}, {7, 1105, 5, 1100}};
    for (const auto& p : post) {
        results.push_back(check_postprocess<float>(p[0], p[1], p[2], p[3]));
        results.push_back(check_postprocess<uint16_t>(p[0], p[1], p[2], p[3]));
    }
    results.push_back(check_blend<float>());
    results.push_back(check_blend<uint16_t>());
    return results;
}

// The reference key: the name without the " (in place)" variant suffix.
std::string key_of(const std::string& name) { return name.substr(0, name.find(" (")); }

int write_reference(const char* path) {
    std::vector<Result> unique;
    for (const int threads : {1, 4}) {
        for (Result& r : run_all(threads)) {
            const std::string key = key_of(r.name);
            bool seen = false;
            for (const Result& u : unique) {
                if (u.name != key) continue;
                seen = true;
                if (u.bytes != r.bytes) {
                    std::fprintf(stderr, "%s [threads=%d] differs from its first run; reference not written\n",
                                 r.name.c_str(), threads);
                    return 1;
                }
            }
            if (!seen) unique.push_back({key, std::move(r.bytes)});
        }
    }
    FILE* f = std::fopen(path, "w");
    if (!f) {
        std::perror(path);
        return 1;
    }
    std::fprintf(f,
                 "// Generated by `kernels_test --write-reference` (csrc/tests/kernels_test.cpp); do not edit.\n"
                 "// Built with g++ %s on %s. One entry per check: output size in bytes, 64-bit FNV-1a of the\n"
                 "// bytes, and the little-endian 32-bit words at 0, 1/4, 1/2 and 3/4 of the output.\n"
                 "#pragma once\n\nstatic const ReferenceEntry kReference[] = {\n",
                 __VERSION__,
#if defined(__x86_64__)
                 "x86-64"
#elif defined(__aarch64__)
                 "aarch64"
#else
                 "an unknown architecture"
#endif
    );
    for (const Result& u : unique) {
        uint32_t w[4];
        sample_words(u.bytes, w);
        std::fprintf(f, "    {\"%s\", %zu, 0x%016llxull, {0x%08xu, 0x%08xu, 0x%08xu, 0x%08xu}},\n", u.name.c_str(),
                     u.bytes.size(), static_cast<unsigned long long>(fnv1a(u.bytes)), w[0], w[1], w[2], w[3]);
    }
    std::fprintf(f, "};\n");
    std::fclose(f);
    std::printf("wrote %zu reference entries to %s\n", unique.size(), path);
    return 0;
}

int run_checks() {
    int passed = 0, failed = 0;
    for (const int threads : {1, 4}) {
        for (const Result& r : run_all(threads)) {
            const std::string key = key_of(r.name);
            const ReferenceEntry* ref = nullptr;
            for (const ReferenceEntry& e : kReference) {
                if (key == e.name) ref = &e;
            }
            const uint64_t hash = fnv1a(r.bytes);
            uint32_t w[4];
            sample_words(r.bytes, w);
            const bool ok = ref && ref->bytes == r.bytes.size() && ref->fnv1a == hash &&
                            std::memcmp(ref->words, w, sizeof w) == 0;
            (ok ? passed : failed)++;
            std::printf("%s %s [threads=%d] %zu bytes fnv1a=%016llx\n", ok ? "PASS" : "FAIL", r.name.c_str(), threads,
                        r.bytes.size(), static_cast<unsigned long long>(hash));
            if (!ok && !ref) std::printf("     no reference entry named \"%s\"\n", key.c_str());
            if (!ok && ref) {
                std::printf("     expected %llu bytes fnv1a=%016llx words %08x %08x %08x %08x\n",
                            static_cast<unsigned long long>(ref->bytes), static_cast<unsigned long long>(ref->fnv1a),
                            ref->words[0], ref->words[1], ref->words[2], ref->words[3]);
                std::printf("     got      %zu bytes fnv1a=%016llx words %08x %08x %08x %08x\n", r.bytes.size(),
                            static_cast<unsigned long long>(hash), w[0], w[1], w[2], w[3]);
            }
        }
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "--write-reference") == 0) return write_reference(argv[2]);
    if (argc != 1) {
        std::fprintf(stderr, "usage: %s [--write-reference PATH]\n", argv[0]);
        return 2;
    }
    return run_checks();
}
