// The Noise receiver's key source (src/noise/session.h) over the capture's key store: the
// session asks through this interface, so the core never reaches for the plugin's globals.
#include "wacall_plugin.h"

#include "keys/keylog.h"
#include "noise/session.h"

namespace {

class StoreKeys final : public wacall::noise::KeySource {
public:
    void refresh() override { wacall_keys_refresh(); }
    uint64_t generation() const override { return wacall_keys().generation(); }
    std::vector<const wacall::keys::NoiseTraffic *> traffic_candidates(wacall::ByteView eph) const override {
        return wacall_keys().noise_traffic_candidates(eph);
    }
    std::vector<const wacall::keys::NoisePrivate *> private_candidates(wacall::ByteView eph) const override {
        return wacall_keys().noise_private_candidates(eph);
    }
    std::vector<const wacall::keys::NoiseTraffic *> all_traffic() const override {
        return wacall_keys().all_noise_traffic();
    }
    void report_used(uint32_t line, const std::string &what) override { wacall_keys_report_used(line, what); }
};

}  // namespace

wacall::noise::KeySource &wacall_noise_keys() {
    static StoreKeys keys;
    return keys;
}
