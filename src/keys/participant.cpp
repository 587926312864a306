#include "keys/participant.h"

namespace wacall::keys {

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string normalize_participant_id(const std::string &jid) {
    size_t b = 0, e = jid.size();
    while (b < e && is_space(jid[b])) b++;
    while (e > b && is_space(jid[e - 1])) e--;
    std::string s = jid.substr(b, e - b);
    size_t slash = s.find('/');
    if (slash != std::string::npos) s.resize(slash);
    size_t at = s.find('@');
    if (at == std::string::npos || at == 0) return s;
    if (s.compare(at + 1, std::string::npos, "lid") != 0) return s;
    if (s.find(':') < at) return s;  // device already present
    s.insert(at, ":0");
    return s;
}

bool looks_like_jid(const std::string &jid) {
    size_t at = jid.find('@');
    return at != std::string::npos && at > 0 && at + 1 < jid.size() &&
           jid.find_first_of(" \t\r\n") == std::string::npos;
}

}  // namespace wacall::keys
