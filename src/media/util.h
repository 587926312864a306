// Small internal helpers shared by the media sources.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wacall::media::detail {

// Constant-time equality: tags must not leak how many leading bytes matched.
inline bool ct_equal(const uint8_t *a, const uint8_t *b, size_t n) {
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= uint8_t(a[i] ^ b[i]);
    return acc == 0;
}

}  // namespace wacall::media::detail
