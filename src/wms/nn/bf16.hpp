// PRIVATE (includes c10): bf16 <-> float as bit operations the compiler vectorizes, for
// the hand-written kernels of nn/ (c10::BFloat16's own conversion checks for NaN per
// element and stays scalar). A bf16 is the upper half of a float; float -> bf16 rounds
// to nearest even, as c10 does for finite values. Inputs are finite. Thread safety: pure.
#pragma once

#include <c10/util/BFloat16.h>

#include <cstdint>
#include <cstring>

namespace wms::nn::bits {

inline float load(const float* p) {
  return *p;
}
inline float load(const c10::BFloat16* p) {
  std::uint32_t bits = static_cast<std::uint32_t>(p->x) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline void store(float* p, float v) {
  *p = v;
}
inline void store(c10::BFloat16* p, float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  p->x = static_cast<std::uint16_t>(bits >> 16);
}

}  // namespace wms::nn::bits
