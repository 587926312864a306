// The key log parser: KeyStore::load_text over arbitrary text (labelled lines, JSON lines, CRLF,
// comments, long lines), loaded twice (the second load must change nothing), then lookups.
#include "fuzz_common.h"
#include "keys/keylog.h"

#include <string>

using namespace wacall;
using namespace wacall::keys;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string text(reinterpret_cast<const char *>(data), size);
    KeyStore ks;
    ks.load_text(text, "fuzz.keys");
    size_t problems = ks.problems().size();
    FUZZ_CHECK(problems <= 2 * KeyStore::kMaxProblems);  // malformed lines and disagreements, each capped
    for (const auto &p : ks.problems()) FUZZ_CHECK(p.line >= 1 && p.file == "fuzz.keys" && !p.message.empty());
    uint64_t gen = ks.generation();
    FUZZ_CHECK(!ks.load_text(text, "fuzz.keys"));  // everything is already known
    FUZZ_CHECK(ks.generation() == gen);
    for (const auto &id : ks.participant_call_ids()) {
        FUZZ_CHECK(!ks.participants(id).empty());
        auto cands = ks.call_key_candidates(id);
        FUZZ_CHECK(cands.size() <= KeyStore::kMaxCandidates);
        FUZZ_CHECK(cands.empty() == (ks.call_key(id) == nullptr));
        (void)ks.warp_tag_len(id);
        (void)ks.relay_key(id);
        (void)ks.epoch(id, 0);
    }
    uint8_t pub[32] = {};
    for (size_t i = 0; i < 32 && i < size; i++) pub[i] = data[i];
    (void)ks.noise_traffic(ByteView(pub, 32));
    FUZZ_CHECK(ks.noise_traffic_candidates(ByteView(pub, 32)).size() <= KeyStore::kMaxCandidates);
    (void)ks.noise_private(ByteView(pub, 32));
    ks.clear();
    FUZZ_CHECK(ks.problems().empty() && ks.suppressed() == 0 && ks.call_key_count() == 0);
    return 0;
}
