// Participant-id normalisation shared by the key store, the call model and the media plane.
// The id is the HKDF `info` and the SSRC `info`, so every module must spell it identically.
#pragma once

#include <string>

namespace wacall::keys {

// Reference §4.5 (format_participant_id) and spec REL-06 / CRY-06:
//  - trim surrounding whitespace and drop any `/resource`;
//  - `NNN@lid` (no device) becomes `NNN:0@lid`; `NNN:D@lid` stays;
//  - any other server, or a string without a user part or without `@`, passes through.
std::string normalize_participant_id(const std::string &jid);

// True when `jid` looks like `user@server` with both parts non-empty (after normalisation).
bool looks_like_jid(const std::string &jid);

}  // namespace wacall::keys
