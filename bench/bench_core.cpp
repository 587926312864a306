// Google Benchmark targets for the core (issue 4, "Performance"); docs/performance.md has the
// method and the figures. Single thread, no Wireshark: the per-packet and per-frame work the
// dissectors call, next to the raw libgcrypt primitives it is made of (the "floor"):
//
//   BM_Floor_*            raw AES-128-CTR (100 B), HMAC-SHA1 (116 B), AES-256-GCM (1 KiB) through
//                         the same crypto.h handles the core uses
//   BM_E2E_Unprotect      WARP tag check + AES-CTR decrypt of an RTP packet (100-byte payload)
//   BM_Srtcp_Unprotect    SRTCP HMAC-SHA1-80 + decrypt of a 72-byte compound
//   BM_Receiver_*         the media receiver warp calls per RTP packet: first pass (attribution,
//                         ROC, key ring, tag, decrypt, SFrame probe) and replay (decrypt only)
//   BM_DeriveStream*      WAHKDF + RFC 3711 session keys (+ the spec's warp auth key, as the plugin)
//   BM_Noise_*            transport-frame AES-256-GCM decrypt, WABinary decode, both together;
//                         the receiver's first pass per frame (noise::Session: counter, key check,
//                         decrypt into the verdict's plaintext)
//   BM_WaBinary_*         decode of a realistic 1 KiB call offer and of a dense 1 KiB node list
//   BM_KeyLog_*           parse 10,000 WA_CALL_KEY (+ 2 WA_PARTICIPANT) lines; look one up
//   BM_Ssrc_DeriveAll     the nine SSRCs of one (call, participant)
//   BM_Stun_Parse         the relay's Allocate request (token, descriptors, endpoint, MI, FP)
//
// The ctest `bench_smoke` runs every benchmark for 10 ms: it proves they run, it times nothing.
#include "crypto/crypto.h"
#include "keys/keylog.h"
#include "media/receiver.h"
#include "media/srtp.h"
#include "media/ssrc.h"
#include "media/stun.h"
#include "noise/noise.h"
#include "noise/session.h"
#include "wabinary/decoder.h"
#include "wabinary/dictionary.h"
#include "wabinary/frame.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

using namespace wacall;

namespace {

Bytes random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    Bytes b(n);
    for (auto &x : b) x = static_cast<uint8_t>(rng());
    return b;
}

void require(bool ok, const char *what) {
    if (!ok) throw std::runtime_error(std::string("benchmark setup failed: ") + what);
}

const Bytes &call_key() {
    static const Bytes k = random_bytes(32, 1);
    return k;
}
const char kCallId[] = "6240B39E744212EBBE7E711B57EE2E9C";
const char kPeer[] = "39517204880000:7@lid";

// ---- the floor: raw libgcrypt through crypto.h --------------------------------------------

void BM_Floor_AesCtr128(benchmark::State &st) {
    crypto::init();
    const size_t n = static_cast<size_t>(st.range(0));
    crypto::AesCtr c;
    require(c.set_key(random_bytes(16, 2)), "aes-ctr key");
    Bytes in = random_bytes(n, 3), out(n);
    uint8_t iv[16] = {};
    for (auto _ : st) {
        iv[15]++;
        c.crypt(iv, in.data(), out.data(), n);
        benchmark::DoNotOptimize(out.data());
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * int64_t(n));
}
BENCHMARK(BM_Floor_AesCtr128)->Arg(100)->Arg(1024);

void BM_Floor_HmacSha1(benchmark::State &st) {
    crypto::init();
    const size_t n = static_cast<size_t>(st.range(0));
    crypto::HmacSha1 h;
    require(h.set_key(random_bytes(20, 4)), "hmac key");
    Bytes in = random_bytes(n, 5);
    uint8_t roc[4] = {}, out[20];
    for (auto _ : st) {
        h.compute(in, ByteView(roc, 4), out);
        benchmark::DoNotOptimize(out);
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * int64_t(n + 4));
}
// 112 + 4 (ROC) = what the WARP tag of a 16-byte header + 100-byte payload covers.
BENCHMARK(BM_Floor_HmacSha1)->Arg(112);

void BM_Floor_AesGcm256Decrypt(benchmark::State &st) {
    crypto::init();
    const size_t n = static_cast<size_t>(st.range(0));
    crypto::AesGcm g;
    require(g.set_key(random_bytes(32, 6)), "gcm key");
    Bytes pt = random_bytes(n, 7), ct(n), out(n);
    uint8_t nonce[12] = {}, tag[16];
    require(g.encrypt(ByteView(nonce, 12), {}, pt, ct.data(), tag), "gcm encrypt");
    for (auto _ : st) {
        bool ok = g.decrypt(ByteView(nonce, 12), {}, ct, tag, out.data());
        benchmark::DoNotOptimize(ok);
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * int64_t(n));
}
BENCHMARK(BM_Floor_AesGcm256Decrypt)->Arg(1024);

// ---- E2E SRTP / SRTCP -----------------------------------------------------------------------

// A WARP audio packet: 16-byte header (X=1, empty 0xDEBE extension), `payload` bytes, 4-byte tag.
Bytes protected_rtp(media::StreamKeys &k, size_t payload, uint16_t seq, uint32_t roc, uint32_t ssrc = 0x12345678) {
    Bytes plain = {0x90, 0x78, uint8_t(seq >> 8), uint8_t(seq), 0, 0, 3, 0xC0, 0, 0, 0, 0, 0xDE, 0xBE, 0x00, 0x00};
    put_be32(plain.data() + 8, ssrc);
    Bytes body = random_bytes(payload, 8);
    plain.insert(plain.end(), body.begin(), body.end());
    Bytes wire(plain.size() + 20);
    size_t len = 0;
    media::E2EOptions opt;
    require(media::e2e_protect(k, plain, roc, opt, wire.data(), wire.size(), len) == media::SrtpStatus::Ok,
            "e2e_protect");
    wire.resize(len);
    return wire;
}

void BM_E2E_Unprotect(benchmark::State &st) {
    crypto::init();
    media::StreamKeys k;
    require(k.derive(call_key(), kPeer, true), "derive");
    Bytes wire = protected_rtp(k, static_cast<size_t>(st.range(0)), 4242, 1);
    Bytes out(wire.size());
    media::E2EOptions opt;
    media::RtpUnprotectInfo info;
    for (auto _ : st) {
        media::SrtpStatus s = media::e2e_unprotect(k, wire, 1, opt, out.data(), out.size(), &info);
        if (s != media::SrtpStatus::Ok) st.SkipWithError("e2e_unprotect failed");
        benchmark::DoNotOptimize(out.data());
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * int64_t(wire.size()));
}
BENCHMARK(BM_E2E_Unprotect)->Arg(100)->Arg(40)->Arg(120);

// ---- the media receiver (what warp calls per RTP/RTCP packet) ------------------------------------

// One 1:1 call in memory: the key log's call key and both participants.
class BenchKeySource : public media::KeySource {
public:
    std::vector<std::string> parts = {kPeer, "111111111111111:0@lid"};
    uint64_t keys_generation() const override { return 1; }
    uint64_t keys_clears() const override { return 0; }
    uint64_t keys_preferences() const override { return 0; }
    void refresh_keys() override {}
    std::vector<keys::CallKeyCandidate> call_key_candidates(const std::string &id) const override {
        if (id != kCallId) return {};
        return {keys::CallKeyCandidate{&::call_key(), 1}};
    }
    const Bytes *call_key(const std::string &id) const override { return id == kCallId ? &::call_key() : nullptr; }
    void prefer_call_key(const std::string &, size_t) override {}
    std::vector<keys::EpochCandidate> epoch_candidates(const std::string &) const override { return {}; }
    const std::vector<std::string> &keylog_participants(const std::string &id) const override {
        static const std::vector<std::string> none;
        return id == kCallId ? parts : none;
    }
    std::vector<std::string> keylog_call_ids() const override { return {kCallId}; }
    const Bytes *keylog_hbh_key(const std::string &) const override { return nullptr; }
    int keylog_tag_len(const std::string &) const override { return 0; }
    const std::string *keylog_relay_key(const std::string &) const override { return nullptr; }
    void report_key_used(uint32_t, const std::string &) override {}
    uint64_t calls_generation() const override { return 1; }
    std::vector<std::string> signaled_call_ids() const override { return {}; }
    std::optional<media::SignaledCall> signaled_call(const std::string &) const override { return std::nullopt; }
};

// 1,024 audio packets of the peer (100-byte payloads, seq 0..1023), protected once.
struct ReceiverBench {
    BenchKeySource src;
    media::MediaReceiver rx{src};
    std::vector<Bytes> wire;
    Bytes out;
    ReceiverBench() {
        crypto::init();
        media::StreamKeys k;
        require(k.derive(call_key(), kPeer, true), "derive");
        const uint32_t ssrc = media::derive_ssrc(kCallId, kPeer, 0);  // attributed to the peer's audio
        for (uint16_t seq = 0; seq < 1024; seq++) wire.push_back(protected_rtp(k, 100, seq, 0, ssrc));
        out.resize(wire[0].size());
    }
};

// First pass: attribution (SSRC lookup), ROC estimate, key ring, tag check, decrypt, commit,
// SFrame probe: what warp's first pass costs per packet beyond the tree.
void BM_Receiver_FirstPassRtp(benchmark::State &st) {
    ReceiverBench b;
    size_t i = 0;
    for (auto _ : st) {
        media::RtpPlain p;
        media::RtpVerdict v = b.rx.first_pass_rtp(b.wire[i], b.out.data(), &p);
        if (v.status != media::ReceiveStatus::Good) st.SkipWithError("first_pass_rtp failed");
        benchmark::DoNotOptimize(b.out.data());
        i = (i + 1) & 1023;
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_Receiver_FirstPassRtp);

// Later passes: the stored verdict replayed (decrypt only, no tag check while keys are stable).
void BM_Receiver_ReplayRtp(benchmark::State &st) {
    ReceiverBench b;
    std::vector<media::RtpVerdict> verdicts;
    for (const auto &w : b.wire) verdicts.push_back(b.rx.first_pass_rtp(w, b.out.data(), nullptr));
    size_t i = 0;
    for (auto _ : st) {
        media::RtpPlain p = b.rx.replay_rtp(verdicts[i], b.wire[i], b.out.data());
        if (!p.len) st.SkipWithError("replay_rtp failed");
        benchmark::DoNotOptimize(b.out.data());
        i = (i + 1) & 1023;
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_Receiver_ReplayRtp);

void BM_Srtcp_Unprotect(benchmark::State &st) {
    crypto::init();
    media::StreamKeys k;
    require(k.derive(call_key(), kPeer, true), "derive");
    // SR (28 bytes) + SDES with a 22-byte CNAME (rounded to 36) + compact 208 (8 bytes) = 72.
    Bytes rtcp = random_bytes(72, 9);
    rtcp[0] = 0x80;
    rtcp[1] = 200;
    rtcp[2] = 0;
    rtcp[3] = 6;
    Bytes wire(rtcp.size() + media::kSrtcpTrailerLen);
    size_t len = 0;
    require(media::srtcp_protect(k.rtcp, rtcp, 7, true, wire.data(), wire.size(), len) == media::SrtpStatus::Ok,
            "srtcp_protect");
    Bytes out(wire.size());
    media::SrtcpInfo info;
    for (auto _ : st) {
        if (media::srtcp_unprotect(k.rtcp, wire, out.data(), out.size(), &info) != media::SrtpStatus::Ok)
            st.SkipWithError("srtcp_unprotect failed");
        benchmark::DoNotOptimize(out.data());
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * int64_t(wire.size()));
}
BENCHMARK(BM_Srtcp_Unprotect);

// WAHKDF + RFC 3711 labels 0..5 and the keyed handles: what a new sender costs once.
void BM_DeriveStream(benchmark::State &st) {
    crypto::init();
    const bool spec_key = st.range(0) != 0;
    for (auto _ : st) {
        media::StreamKeys k;
        if (!k.derive(call_key(), kPeer, spec_key)) st.SkipWithError("derive failed");
        benchmark::DoNotOptimize(k.rtp.keys.cipher_key);
    }
    st.SetItemsProcessed(st.iterations());
}
// Arg 0: WAHKDF + RFC 3711 (the figure); 1: plus HKDF "warp auth key" (what the plugin calls).
BENCHMARK(BM_DeriveStream)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_Ssrc_DeriveAll(benchmark::State &st) {
    crypto::init();
    uint32_t ssrcs[9];
    for (auto _ : st) {
        media::derive_all_ssrcs(kCallId, kPeer, ssrcs);
        benchmark::DoNotOptimize(ssrcs);
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_Ssrc_DeriveAll)->Unit(benchmark::kMicrosecond);

// What MediaReceiver does per key-log call: the nine SSRCs of both participants of a 1:1 call.
void BM_Ssrc_DeriveCall(benchmark::State &st) {
    crypto::init();
    media::SsrcDeriver d;
    const std::vector<std::string> parts = {kPeer, "111111111111111:0@lid"};
    for (auto _ : st) {
        std::optional<std::vector<media::SsrcDeriver::Ssrcs>> out = d.derive(kCallId, parts);
        if (!out) st.SkipWithError("derive failed");
        benchmark::DoNotOptimize(out);
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_Ssrc_DeriveCall)->Unit(benchmark::kMicrosecond);

// ---- WABinary -------------------------------------------------------------------------------

// A small WABinary encoder for the benchmark inputs (tokens from the shipped dictionary,
// everything else BINARY_8/20, JIDs as AD_JID).
class Enc {
public:
    explicit Enc(const wabinary::Dictionary *d) {
        for (size_t i = 1; i < d->single_count; i++)
            if (d->single_byte[i] && *d->single_byte[i]) single_.emplace(d->single_byte[i], uint8_t(i));
    }
    Bytes out;

    void list(size_t n) {
        if (n < 256) {
            out.push_back(wabinary::LIST_8);
            out.push_back(uint8_t(n));
        } else {
            out.push_back(wabinary::LIST_16);
            out.push_back(uint8_t(n >> 8));
            out.push_back(uint8_t(n));
        }
    }
    void str(const std::string &s) {
        auto it = single_.find(s);
        if (it != single_.end()) {
            out.push_back(it->second);
            return;
        }
        bin(ByteView(reinterpret_cast<const uint8_t *>(s.data()), s.size()));
    }
    void bin(ByteView b) {
        if (b.size < 256) {
            out.push_back(wabinary::BINARY_8);
            out.push_back(uint8_t(b.size));
        } else {
            out.push_back(wabinary::BINARY_20);
            out.push_back(uint8_t(b.size >> 16));
            out.push_back(uint8_t(b.size >> 8));
            out.push_back(uint8_t(b.size));
        }
        out.insert(out.end(), b.begin(), b.end());
    }
    void nibble(const std::string &digits) {  // NIBBLE_8 of decimal digits
        out.push_back(wabinary::NIBBLE_8);
        size_t bytes = (digits.size() + 1) / 2;
        out.push_back(uint8_t(bytes | (digits.size() % 2 ? 0x80 : 0)));
        for (size_t i = 0; i < bytes; i++) {
            uint8_t hi = uint8_t(digits[2 * i] - '0');
            uint8_t lo = 2 * i + 1 < digits.size() ? uint8_t(digits[2 * i + 1] - '0') : 15;
            out.push_back(uint8_t(hi << 4 | lo));
        }
    }
    void lid(const std::string &user, uint8_t device) {
        out.push_back(wabinary::AD_JID);
        out.push_back(1);  // lid
        out.push_back(device);
        nibble(user);
    }
    // <tag attrs...> with `children` child nodes or a content value written by the caller after.
    void open(const std::string &tag, size_t n_attrs, bool has_content) {
        list(1 + 2 * n_attrs + (has_content ? 1 : 0));
        str(tag);
    }

private:
    std::map<std::string, uint8_t> single_;
};

// A realistic ~1 KiB call offer: attributes, JIDs, codec children, an <enc> blob, a <relay>
// block with tokens, keys and te2 endpoints.
Bytes offer_frame() {
    Enc e(wabinary::default_dictionary());
    const std::string cid = kCallId;
    e.open("call", 4, true);
    e.str("from"); e.lid("48213377210000", 0);
    e.str("id"); e.str("3EB0A1B2C3D4E5F60718");
    e.str("t"); e.nibble("1700000000");
    e.str("e"); e.str("0");
    e.list(1);
    e.open("offer", 3, true);
    e.str("call-id"); e.str(cid);
    e.str("call-creator"); e.lid("48213377210000", 0);
    e.str("joinable"); e.str("1");
    e.list(10);
    for (const char *rate : {"16000", "8000"}) {
        e.open("audio", 2, false);
        e.str("enc"); e.str("opus");
        e.str("rate"); e.str(rate);
    }
    e.open("video", 4, false);
    e.str("enc"); e.str("vp8");
    e.str("dec"); e.str("vp8");
    e.str("orientation"); e.str("0");
    e.str("screen_width"); e.str("1080");
    e.open("net", 1, false);
    e.str("medium"); e.str("3");
    e.open("capability", 1, true);
    e.str("ver"); e.str("1");
    e.bin(random_bytes(6, 10));
    e.open("encopt", 1, false);
    e.str("keygen"); e.str("2");
    e.open("enc", 3, true);
    e.str("v"); e.str("2");
    e.str("type"); e.str("pkmsg");
    e.str("count"); e.str("0");
    e.bin(random_bytes(100, 11));
    e.open("relay", 2, true);
    e.str("uuid"); e.str("a1b2c3d4e5f6");
    e.str("self_pid"); e.str("3");
    e.list(12);
    for (int i = 0; i < 2; i++) {
        e.open("participant", 2, false);
        e.str("jid"); e.lid(i ? "39517204880000" : "48213377210000", uint8_t(i ? 7 : 0));
        e.str("pid"); e.str(std::to_string(i + 1));
    }
    e.open("token", 1, true);
    e.str("id"); e.str("0");
    e.bin(random_bytes(120, 12));
    e.open("key", 0, true);
    e.str("Q2hhbmdlTWVDaGFuZ2VNZQ==");
    e.open("hbh_key", 0, true);
    e.bin(random_bytes(30, 13));
    for (int i = 0; i < 7; i++) {
        e.open("te2", 3, true);
        e.str("relay_id"); e.str(std::to_string(i));
        e.str("token_id"); e.str("0");
        e.str("relay_name"); e.str("gru1c0" + std::to_string(i));
        e.bin(random_bytes(6, 20 + i));
    }
    e.open("voip_settings", 1, true);
    e.str("uncompressed"); e.str("1");
    e.bin(random_bytes(40, 30));
    e.open("metadata", 1, false);
    e.str("peer_abtest_bucket"); e.str("main");
    return e.out;
}

// A dense ~1 KiB node list: many small nodes, every value a token, a JID, or a short string —
// the decoder's worst case per byte (a node per ~14 bytes).
Bytes dense_frame() {
    Enc e(wabinary::default_dictionary());
    e.open("iq", 3, true);
    e.str("id"); e.str("3EB0A1B2");
    e.str("type"); e.str("result");
    e.str("from"); e.str("s.whatsapp.net");
    const size_t n = 55;
    e.list(n);
    for (size_t i = 0; i < n; i++) {
        e.open("item", 2, false);
        e.str("jid"); e.lid(std::to_string(48213377210000ull + i * 7919), uint8_t(i % 3));
        e.str("type"); e.str(i % 2 ? "audio" : "video");
    }
    return e.out;
}

void decode_bench(benchmark::State &st, const Bytes &node) {
    const wabinary::Dictionary *d = wabinary::default_dictionary();
    wabinary::DecodeResult r = wabinary::decode_node(node, d);
    if (!r.ok || r.trailing_bytes) {
        st.SkipWithError(("bench frame does not decode: " + r.error).c_str());
        return;
    }
    for (auto _ : st) {
        wabinary::DecodeResult res = wabinary::decode_node(node, d);
        benchmark::DoNotOptimize(res.root.children.data());
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * int64_t(node.size()));
    st.counters["frame_bytes"] = double(node.size());
}

void BM_WaBinary_DecodeOffer(benchmark::State &st) { decode_bench(st, offer_frame()); }
BENCHMARK(BM_WaBinary_DecodeOffer);
void BM_WaBinary_DecodeDense(benchmark::State &st) { decode_bench(st, dense_frame()); }
BENCHMARK(BM_WaBinary_DecodeDense);

// ---- Noise transport frames ---------------------------------------------------------------

struct NoiseFrame {
    noise::TransportCipher cipher;
    Bytes ct;   // ciphertext || tag of format byte 0 || node bytes
    size_t plain_len = 0;
};

void make_noise_frame(NoiseFrame &f, const Bytes &node) {
    crypto::init();
    require(f.cipher.set_key(random_bytes(32, 40)), "noise key");
    Bytes plain;
    plain.push_back(0);  // format: not compressed
    plain.insert(plain.end(), node.begin(), node.end());
    f.plain_len = plain.size();
    f.ct.resize(plain.size() + noise::kTagSize);
    require(f.cipher.encrypt(17, plain, f.ct.data()), "noise encrypt");
}

// A 1 KiB transport frame (random content: the decrypt alone).
void BM_Noise_Decrypt(benchmark::State &st) {
    NoiseFrame f;
    make_noise_frame(f, random_bytes(static_cast<size_t>(st.range(0)) - 1, 41));
    Bytes out(f.ct.size());
    for (auto _ : st) {
        if (!f.cipher.decrypt(17, f.ct, out.data())) st.SkipWithError("noise decrypt failed");
        benchmark::DoNotOptimize(out.data());
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * int64_t(f.plain_len));
}
BENCHMARK(BM_Noise_Decrypt)->Arg(1024);

// What wanoise + wabinary do per signaling frame: decrypt, unpack, decode.
void noise_frame_bench(benchmark::State &st, const Bytes &node) {
    NoiseFrame f;
    make_noise_frame(f, node);
    Bytes out(f.ct.size());
    const wabinary::Dictionary *d = wabinary::default_dictionary();
    for (auto _ : st) {
        if (!f.cipher.decrypt(17, f.ct, out.data())) st.SkipWithError("noise decrypt failed");
        wabinary::Unpacked u = wabinary::unpack_frame(ByteView(out.data(), f.plain_len));
        wabinary::DecodeResult r = wabinary::decode_node(u.node, d);
        if (!r.ok) st.SkipWithError("decode failed");
        benchmark::DoNotOptimize(r.root.children.data());
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * int64_t(f.plain_len));
    st.counters["frame_bytes"] = double(f.ct.size());
}
void BM_Noise_DecryptDecodeOffer(benchmark::State &st) { noise_frame_bench(st, offer_frame()); }
BENCHMARK(BM_Noise_DecryptDecodeOffer);
void BM_Noise_DecryptDecodeDense(benchmark::State &st) { noise_frame_bench(st, dense_frame()); }
BENCHMARK(BM_Noise_DecryptDecodeDense);

// What wanoise asks of the core per signaling frame on the first pass: noise::Session::first_pass
// on a 1 KiB offer frame (key-log generation check, counter, AES-256-GCM, plaintext copy out).
// The session is picked up mid-stream from frame 0 (that search is set-up, not timed); frames
// 0..kFrames-1 are pre-encrypted and a fresh session starts after the last one.
class BenchKeys : public noise::KeySource {
public:
    keys::NoiseTraffic line;
    uint64_t generation() const override { return 1; }
    std::vector<const keys::NoiseTraffic *> traffic_candidates(ByteView) const override { return {&line}; }
    std::vector<const keys::NoisePrivate *> private_candidates(ByteView) const override { return {}; }
    std::vector<const keys::NoiseTraffic *> all_traffic() const override { return {&line}; }
};

void BM_Noise_SessionFirstPass(benchmark::State &st) {
    constexpr uint32_t kFrames = 4096;
    crypto::init();
    BenchKeys keys;
    Bytes k = random_bytes(32, 42);
    std::memcpy(keys.line.c2s.data(), k.data(), 32);
    std::memcpy(keys.line.s2c.data(), k.data(), 32);
    noise::TransportCipher tx;
    require(tx.set_key(k), "noise key");
    Bytes plain{0};
    Bytes node = offer_frame();
    plain.insert(plain.end(), node.begin(), node.end());
    std::vector<Bytes> frames(kFrames, Bytes(plain.size() + noise::kTagSize));
    for (uint32_t i = 0; i < kFrames; i++) require(tx.encrypt(i, plain, frames[i].data()), "noise encrypt");
    auto fresh = [&] {
        auto s = noise::Session::pick_up_midstream(keys, noise::C2S, frames[0], 16);
        require(s != nullptr, "mid-stream pickup");
        return s;
    };
    std::unique_ptr<noise::Session> s = fresh();
    uint32_t i = 0;
    for (auto _ : st) {
        if (i == kFrames) {
            st.PauseTiming();
            s = fresh();
            i = 0;
            st.ResumeTiming();
        }
        noise::FrameResult r = s->first_pass(noise::C2S, frames[i++]);
        if (r.verdict.status != noise::FrameStatus::Decrypted) st.SkipWithError("first pass did not decrypt");
        benchmark::DoNotOptimize(r.plaintext.data());
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * int64_t(plain.size()));
}
BENCHMARK(BM_Noise_SessionFirstPass);

// ---- key log ------------------------------------------------------------------------------

std::string keylog_text(size_t calls, bool participants) {
    std::mt19937_64 rng(50);
    std::string s;
    s.reserve(calls * (participants ? 240 : 120));
    char line[256];
    for (size_t i = 0; i < calls; i++) {
        uint64_t a = rng(), b = rng();
        std::snprintf(line, sizeof line, "WA_CALL_KEY %016llX%016llX ", static_cast<unsigned long long>(a),
                      static_cast<unsigned long long>(b));
        s += line;
        for (int j = 0; j < 4; j++) {
            std::snprintf(line, sizeof line, "%016llx", static_cast<unsigned long long>(rng()));
            s += line;
        }
        s += '\n';
        if (participants) {
            std::snprintf(line, sizeof line, "WA_PARTICIPANT %016llX%016llX %llu@lid\nWA_PARTICIPANT %016llX%016llX %llu:7@lid\n",
                          static_cast<unsigned long long>(a), static_cast<unsigned long long>(b),
                          static_cast<unsigned long long>(48213377210000ull + i), static_cast<unsigned long long>(a),
                          static_cast<unsigned long long>(b), static_cast<unsigned long long>(39517204880000ull + i));
            s += line;
        }
    }
    return s;
}

void BM_KeyLog_Load(benchmark::State &st) {
    const size_t calls = static_cast<size_t>(st.range(0));
    const std::string text = keylog_text(calls, st.range(1) != 0);
    for (auto _ : st) {
        keys::KeyStore ks;
        ks.load_text(text, "bench.keys");
        if (ks.call_key_count() != calls || !ks.problems().empty()) st.SkipWithError("key log did not load");
        benchmark::DoNotOptimize(ks.generation());
    }
    st.SetItemsProcessed(st.iterations() * int64_t(calls));
    st.SetBytesProcessed(st.iterations() * int64_t(text.size()));
}
// 10,000 calls: WA_CALL_KEY only, and with two WA_PARTICIPANT lines each.
BENCHMARK(BM_KeyLog_Load)->Args({10000, 0})->Args({10000, 1})->Unit(benchmark::kMillisecond);

// A lookup in stores of 100 and 10,000 calls: O(1) means the same time.
void BM_KeyLog_Lookup(benchmark::State &st) {
    const size_t calls = static_cast<size_t>(st.range(0));
    keys::KeyStore ks;
    ks.load_text(keylog_text(calls, true), "bench.keys");
    std::vector<std::string> ids;
    std::mt19937_64 rng(50);
    for (size_t i = 0; i < calls; i++) {
        char id[40];
        uint64_t a = rng(), b = rng();
        for (int j = 0; j < 4; j++) rng();
        std::snprintf(id, sizeof id, "%016llX%016llX", static_cast<unsigned long long>(a),
                      static_cast<unsigned long long>(b));
        ids.emplace_back(id);
    }
    size_t i = 0;
    for (auto _ : st) {
        const std::string &id = ids[i++ % ids.size()];
        const Bytes *k = ks.call_key(id);
        if (!k) st.SkipWithError("lookup failed");
        benchmark::DoNotOptimize(k);
        benchmark::DoNotOptimize(ks.participants(id).size());
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_KeyLog_Lookup)->Arg(100)->Arg(10000);

// ---- STUN ---------------------------------------------------------------------------------

void put_attr(Bytes &m, uint16_t type, const Bytes &v) {
    m.push_back(uint8_t(type >> 8));
    m.push_back(uint8_t(type));
    m.push_back(uint8_t(v.size() >> 8));
    m.push_back(uint8_t(v.size()));
    m.insert(m.end(), v.begin(), v.end());
    while (m.size() % 4) m.push_back(0);
}

void BM_Stun_Parse(benchmark::State &st) {
    // Allocate: 0x4000 token (16), 0x4024 nine stream descriptors, 0x0016 endpoint, MI, FINGERPRINT.
    Bytes m = {0x00, 0x03, 0, 0, 0x21, 0x12, 0xA4, 0x42};
    Bytes txid = random_bytes(12, 60);
    m.insert(m.end(), txid.begin(), txid.end());
    put_attr(m, media::kAttrRelayToken, random_bytes(16, 61));
    Bytes desc;
    for (int i = 0; i < 9; i++) {
        Bytes d = {0x18, uint8_t(0x80 | i), 0x91, 0xA3, 0x05};  // 3: ssrc varint
        desc.push_back(0x0A);
        desc.push_back(uint8_t(d.size()));
        desc.insert(desc.end(), d.begin(), d.end());
    }
    put_attr(m, media::kAttrStreamDescriptors, desc);
    put_attr(m, media::kAttrWasmRelayEndpoint, {0x00, 0x01, 0x32, 0x24, 0xE7, 0x21, 0xC0, 0x45});
    put_attr(m, media::kAttrMessageIntegrity, random_bytes(20, 62));
    put_attr(m, media::kAttrFingerprint, random_bytes(4, 63));
    m[2] = uint8_t((m.size() - 20) >> 8);
    m[3] = uint8_t(m.size() - 20);
    for (auto _ : st) {
        media::StunMessage msg;
        if (media::parse_stun(m, msg) != media::StunStatus::Ok || msg.attrs.size() != 5) st.SkipWithError("stun parse failed");
        benchmark::DoNotOptimize(msg.attrs.data());
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * int64_t(m.size()));
}
BENCHMARK(BM_Stun_Parse);

}  // namespace
