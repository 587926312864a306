// The capture's one media receiver (src/media/receiver.h) over the plugin's key store and call
// registry; reset with the rest of the capture-wide state (capture_state.cpp, one reset).
#pragma once

#include "media/receiver.h"

using wacall::media::KeyCandidate;
using wacall::media::MediaStream;

wacall::media::MediaReceiver &wacall_media();
// The key store (wacall_keys) and the call registry (wacall_calls) as the receiver sees them.
wacall::media::KeySource &wacall_key_source();
