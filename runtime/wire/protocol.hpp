// What two meshrun processes agree on before anything else is read.
#pragma once

#include <cstdint>

namespace meshrun {

inline constexpr uint32_t kProtocolMagic = 0x4d534852;  // "MSHR"
inline constexpr uint16_t kProtocolVersion = 2;

}  // namespace meshrun
