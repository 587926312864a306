// The receiver of one WhatsApp Noise connection, as a passive observer sees it: which frames are
// handshake messages, the handshake replay (WA_NOISE_PRIVATE) or the traffic keys
// (WA_NOISE_TRAFFIC), each direction's transport counter with resynchronisation after lost
// frames, the mid-stream key and counter search, and the order raw-TCP frames are fed in.
// Plain bytes in, small verdict records out: no Wireshark. wanoise.cpp keeps Wireshark's
// conversations and per-frame storage and only renders what a Session decided.
#pragma once

#include "common/bytes.h"
#include "keys/keylog.h"
#include "noise/noise.h"
#include "noise/tcp_stream.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wacall::noise {

// Direction of a frame; also the index of per-direction state (and the wanoise.direction value).
enum Dir : uint8_t { C2S = 0, S2C = 1 };

enum class FrameKind : uint8_t { Handshake = 1, Transport = 2 };
// Why a transport frame has, or has not, a plaintext.
enum class FrameStatus : uint8_t { Handshake = 0, Decrypted, NoKey, BadTag, TooShort };
const char *frame_status_name(FrameStatus s);
// Where the session's transport keys came from (the wanoise.key_source values).
enum class KeyOrigin : uint8_t { None = 0, Traffic, Replay };

// The key log as a session sees it. The plugin implements it over the capture's key store;
// unit tests in memory. Pointers stay valid until the next refresh().
class KeySource {
public:
    virtual ~KeySource() = default;
    // Re-reads the key log if it changed (a corrected line may be appended while a capture is open).
    virtual void refresh() {}
    // Bumped whenever lines are added or dropped.
    virtual uint64_t generation() const = 0;
    virtual std::vector<const keys::NoiseTraffic *> traffic_candidates(ByteView client_eph_pub) const = 0;
    virtual std::vector<const keys::NoisePrivate *> private_candidates(ByteView client_eph_pub) const = 0;
    virtual std::vector<const keys::NoiseTraffic *> all_traffic() const = 0;
    // Says which line's key authenticated when several lines disagreed about one session.
    virtual void report_used(uint32_t /*line*/, const std::string & /*what*/) {}
};

// What the first pass decided about one frame; later passes render from it.
struct FrameVerdict {
    FrameKind kind = FrameKind::Handshake;
    Dir dir = C2S;
    FrameStatus status = FrameStatus::Handshake;
    HandshakeKind hs_kind = HandshakeKind::None;  // handshake frames
    KeyOrigin key_source = KeyOrigin::None;
    uint32_t counter = 0;    // transport: the AES-GCM nonce
    uint32_t skipped = 0;    // frames missing before this one (counter resynchronised)
    bool midstream = false;  // this frame's counter was found by the mid-stream search
    uint32_t key_line = 0;   // key-log line of the key that decrypted it (0: replay or none)
};

struct FrameResult {
    FrameVerdict verdict;
    Bytes plaintext;  // only when verdict.status == Decrypted: never unauthenticated bytes
};

// Where a raw-TCP frame sat in its stream (TcpFrameStream's gap ids), for the counters of gaps.
struct TcpPlace {
    uint32_t gap_before = 0;
    uint32_t late_for = 0;
};

using DirFrame = std::pair<StreamFrame, Dir>;

// A raw-TCP segment fed in: how it fitted the stream and the frames it released, in the order
// they are to be dissected.
struct TcpFeed {
    SegmentResult segment;  // segment.frames is moved into `frames`
    std::vector<DirFrame> frames;
};

// How many counters a lost-frame resync tries past the expected one.
constexpr uint32_t kResyncWindow = 16;
// How many client frames wait for a ServerHello that is still incomplete.
constexpr size_t kMaxHeld = 16;

class Session {
public:
    // A session opened by the client's intro (prologue: the 4-byte WA header).
    Session(KeySource &keys, ByteView prologue, int dict_version, uint32_t midstream_counters);

    // A session picked up mid-stream: `body` (one transport frame sent in `dir`) decrypts with
    // one of the key log's WA_NOISE_TRAFFIC keys at a counter below `midstream_counters`.
    // nullptr when none does.
    static std::unique_ptr<Session> pick_up_midstream(KeySource &keys, Dir dir, ByteView body,
                                                      uint32_t midstream_counters);

    // First pass over one frame body (after the 3-byte length), in stream order per direction.
    FrameResult first_pass(Dir dir, ByteView body, const TcpPlace *place = nullptr);
    // Later passes: the plaintext of a frame the first pass decrypted, recomputed from the
    // verdict and the same bytes. std::nullopt when the first pass did not decrypt it.
    std::optional<Bytes> replay(const FrameVerdict &v, ByteView body);

    // ---- raw TCP ----
    // One segment into the direction's stream. client_start_seq: sequence number of the
    // client intro's first byte, std::nullopt for a mid-stream pickup.
    TcpFeed feed_tcp(Dir dir, uint32_t seq, ByteView data, std::optional<uint32_t> client_start_seq);
    // Takes over streams an intro probe rebuilt before the session existed.
    void adopt_stream(Dir dir, std::unique_ptr<TcpFrameStream> st);
    bool has_stream(Dir dir) const { return tcp_[dir] != nullptr; }
    // Orders frames for dissection: the client's frames after its ClientHello wait while the
    // ServerHello is still incomplete.
    void handshake_order(std::vector<DirFrame> &fs);
    // Would `frame` ([len][body], found behind a TCP gap) be the direction's next frame after
    // lost ones? (TcpFrameStream::Resync)
    bool frame_resumes_after_gap(Dir dir, ByteView frame, bool tiles);

    // ---- what rendering needs ----
    int dict_version() const { return dict_version_; }
    std::optional<Key32> client_ephemeral() const;
    const ReplayResult *replay_result() const { return replay_ ? &replay_->result() : nullptr; }
    KeyOrigin key_source() const { return key_source_; }
    bool midstream() const { return midstream_; }
    uint32_t next_counter(Dir dir) const { return counter_[dir]; }

private:
    Session(KeySource &keys, uint32_t midstream_counters);
    void ensure_keys();
    void track_handshake(const HandshakeMessage &m, ByteView body);
    bool is_handshake_frame(Dir dir, unsigned n) const;
    bool resync(Dir dir, FrameVerdict &v, ByteView body, uint8_t *out);
    bool try_traffic_alts(Dir dir, uint32_t counter, ByteView body, uint8_t *out);
    void settle_key();
    bool server_hello_pending() const;
    void set_keys(const Key32 &c2s, const Key32 &s2c);

    KeySource &keys_;
    uint32_t midstream_counters_;
    Bytes prologue_;
    int dict_version_ = -1;
    bool have_eph_ = false;
    Key32 client_eph_{};
    unsigned frames_seen_[2] = {0, 0};        // first pass: frames per direction so far
    bool server_sent_static_ = false;         // ServerHello carried a static key (XX / fallback)
    uint32_t counter_[2] = {0, 0};            // next transport counter per direction
    bool counter_unknown_[2] = {false, false};  // mid-stream: found by search on the first frame
    bool midstream_ = false;                  // picked up without intro and handshake
    KeyOrigin key_source_ = KeyOrigin::None;
    uint64_t looked_up_generation_ = ~uint64_t(0);
    TransportCipher cipher_[2];
    std::unique_ptr<HandshakeReplay> replay_;
    // Key-log lines that disagree about this session are all tried (keys/keylog.h): until a
    // transport frame (WA_NOISE_TRAFFIC) or the ServerHello (WA_NOISE_PRIVATE) authenticates.
    std::vector<keys::NoiseTraffic> traffic_alts_;
    uint32_t key_line_ = 0;  // key-log line of the key in use
    std::vector<std::pair<uint32_t, std::unique_ptr<HandshakeReplay>>> replay_alts_;
    bool authenticated_ = false;  // a transport frame decrypted: the key is settled
    HandshakeMessage client_hello_msg_;  // views point into client_hello_bytes_
    Bytes client_hello_bytes_;
    Bytes scratch_;  // trial decryptions
    // Raw TCP: each direction's byte stream, and per skipped gap the counter its frames start at.
    std::unique_ptr<TcpFrameStream> tcp_[2];
    std::map<uint32_t, uint32_t> gap_counter_[2];
    unsigned tcp_fed_[2] = {0, 0};   // frames released for dissection per direction
    std::vector<StreamFrame> tcp_held_;  // client frames waiting for the ServerHello
};

// A TCP segment made of whole Noise frames back to back (each at least a GCM tag long): the
// body of its smallest frame, what the mid-stream search tries. std::nullopt otherwise (TLS and
// other traffic fail at once: a record header read as a 3-byte length overshoots the segment).
std::optional<ByteView> midstream_candidate(ByteView segment);

}  // namespace wacall::noise
