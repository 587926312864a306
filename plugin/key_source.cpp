// The media receiver's KeySource over the plugin's globals: the key store behind the
// wacall.keylog_file preference (wacall_keys) and the call registry (wacall_calls).
#include "media_state.h"
#include "wacall_plugin.h"

#include "call/registry.h"
#include "keys/keylog.h"

namespace {

using namespace wacall;

class PluginKeySource final : public media::KeySource {
public:
    uint64_t keys_generation() const override { return wacall_keys().generation(); }
    uint64_t keys_clears() const override { return wacall_keys().clears(); }
    uint64_t keys_preferences() const override { return wacall_keys().preferences(); }
    void refresh_keys() override { wacall_keys_refresh(); }
    std::vector<keys::CallKeyCandidate> call_key_candidates(const std::string &call_id) const override {
        return wacall_keys().call_key_candidates(call_id);
    }
    const Bytes *call_key(const std::string &call_id) const override { return wacall_keys().call_key(call_id); }
    void prefer_call_key(const std::string &call_id, size_t index) override {
        wacall_keys().prefer_call_key(call_id, index);
    }
    std::vector<keys::EpochCandidate> epoch_candidates(const std::string &call_id) const override {
        return wacall_keys().epoch_candidates(call_id);
    }
    const std::vector<std::string> &keylog_participants(const std::string &call_id) const override {
        return wacall_keys().participants(call_id);
    }
    std::vector<std::string> keylog_call_ids() const override { return wacall_keys().participant_call_ids(); }
    const Bytes *keylog_hbh_key(const std::string &call_id) const override { return wacall_keys().hbh_key(call_id); }
    int keylog_tag_len(const std::string &call_id) const override { return wacall_keys().warp_tag_len(call_id); }
    const std::string *keylog_relay_key(const std::string &call_id) const override {
        return wacall_keys().relay_key(call_id);
    }
    void report_key_used(uint32_t line, const std::string &what) override { wacall_keys_report_used(line, what); }
    uint64_t calls_generation() const override { return wacall_calls().generation(); }
    std::vector<std::string> signaled_call_ids() const override {
        std::vector<std::string> ids;
        ids.reserve(wacall_calls().size());
        for (const auto &c : wacall_calls().calls()) ids.push_back(c.call_id);
        return ids;
    }
    std::optional<media::SignaledCall> signaled_call(const std::string &call_id) const override {
        const call::Call *c = wacall_calls().find(call_id);
        if (!c) return std::nullopt;
        media::SignaledCall s;
        s.participants = &c->participants;
        s.hbh_key = &c->hbh_key;
        s.warp_mi_tag_len = c->warp_mi_tag_len;
        s.relay_key = &c->relay_key;
        return s;
    }
};

}  // namespace

media::KeySource &wacall_key_source() {
    static PluginKeySource source;
    return source;
}
