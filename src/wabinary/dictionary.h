// WABinary token dictionaries, compiled in from src/wabinary/dict/dictionary-v*.json.
#pragma once

#include <cstddef>

namespace wacall::wabinary {

struct Dictionary {
    int version;                        // the intro's 4th byte (57 41 06 0N)
    const char *const *single_byte;     // index 0 is "" and is never a token
    size_t single_count;
    const char *const *double_byte[4];  // reached by (0xEC + d, index)
    size_t double_count[4];
};

// The dictionary for a connection-intro version byte, or nullptr when unknown.
const Dictionary *dictionary_for_version(int version);
// The newest dictionary we ship (used when no intro was seen).
const Dictionary *default_dictionary();

}  // namespace wacall::wabinary
