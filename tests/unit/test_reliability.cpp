// Hostile input (issue 5, "Reliability and security"): every length, count and offset from the
// wire is bounded; deep nesting, huge declared sizes, zlib bombs and truncations end in an error
// with the partial result kept; the key log reports every bad line or file once and keeps the
// good lines. Each test that pins a fix names it.
#include "call/call.h"
#include "common/protowire.h"
#include "crypto/crypto.h"
#include "keys/keylog.h"
#include "media/demux.h"
#include "media/rtp.h"
#include "media/sframe.h"
#include "media/srtp.h"
#include "media/stun.h"
#include "noise/noise.h"
#include "wabinary/decoder.h"
#include "wabinary/frame.h"
#include "wabinary/render.h"

#include <gtest/gtest.h>

#include "test_support.h"
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace wacall;
using wacall::test::zlib_compress;

namespace {

const std::string K1 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string K2 = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";

const wabinary::Dictionary *v3() { return wabinary::dictionary_for_version(3); }

// A node <tag/> with a single-byte token tag: F8 01 <token>.
void put_leaf(Bytes &b) {
    b.push_back(0xF8);
    b.push_back(0x01);
    b.push_back(0x03);
}

struct TempPath {
    std::string path;
    TempPath() {
        char buf[] = "/tmp/wacall_rel_XXXXXX";
        int fd = mkstemp(buf);
        if (fd >= 0) close(fd);
        path = buf;
    }
    ~TempPath() { std::remove(path.c_str()); }
    void write(const std::string &s, bool append = false) const {
        std::ofstream o(path, append ? std::ios::app | std::ios::binary : std::ios::trunc | std::ios::binary);
        o << s;
    }
};

size_t count_problems(const keys::KeyStore &ks, size_t line, const std::string &needle) {
    size_t n = 0;
    for (const auto &p : ks.problems())
        if (p.line == line && p.message.find(needle) != std::string::npos) n++;
    return n;
}

}  // namespace

// ---- WABinary -------------------------------------------------------------------------------

TEST(ReliabilityWabinary, DeepNestingStopsAtTheDepthCapWithThePartialTree) {
    // 10,000 nested single-child lists: <t><t><t>... far deeper than the 128 cap.
    Bytes b;
    for (int i = 0; i < 10000; i++) {
        b.insert(b.end(), {0xF8, 0x02, 0x03, 0xF8, 0x01});
    }
    put_leaf(b);
    auto r = wabinary::decode_node(b, v3());
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(r.has_root);
    EXPECT_NE(r.error.find("nesting deeper than 128"), std::string::npos) << r.error;
    const wabinary::Node *n = &r.root;
    unsigned depth = 0;
    while (!n->children.empty()) {
        n = &n->children[0];
        depth++;
    }
    EXPECT_EQ(depth, 128u);
    // The partial tree still renders (the dissector shows it).
    EXPECT_FALSE(wabinary::render_xml(r.root).empty());
}

TEST(ReliabilityWabinary, HugeDeclaredSizesAreErrorsNotAllocations) {
    struct Case {
        Bytes bytes;
        const char *needle;
    } cases[] = {
        {{0xF8, 0x02, 0x03, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF}, "BINARY_32 length 4294967295"},
        {{0xF8, 0x02, 0x03, 0xFD, 0x0F, 0xFF, 0xFF}, "BINARY_20 length 1048575"},
        {{0xF8, 0x02, 0x03, 0xFC, 0xFF}, "BINARY_8 length 255"},
        {{0xF8, 0x02, 0x03, 0xFF, 0x7F}, "NIBBLE_8 length 127"},
        {{0xF8, 0x02, 0x03, 0xF9, 0xFF, 0xFF}, "truncated"},  // 65535 children declared, none there
        {{0xF9, 0xFF, 0xFF, 0x03}, "truncated"},              // 32767 attributes declared
    };
    for (const auto &c : cases) {
        auto r = wabinary::decode_node(c.bytes, v3());
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.error.find(c.needle), std::string::npos) << r.error;
        EXPECT_LE(r.error_offset, c.bytes.size());
        EXPECT_LE(r.allocated_elements(), c.bytes.size());  // room for nodes + attributes, whole tree
        // Fix: the partial tree's spans stay inside the buffer (a failed binary value had a null
        // view, an attribute whose key failed had value.offset 0; the dissector turned those into
        // out-of-range tree items and a Wireshark exception instead of its expert item).
        const uint8_t *base = c.bytes.data(), *end = base + c.bytes.size();
        if (r.root.content.kind == wabinary::ValueKind::Binary) {
            EXPECT_GE(r.root.content.bytes.data, base);
            EXPECT_LE(r.root.content.bytes.data + r.root.content.bytes.size, end);
        }
        for (const auto &a : r.root.attrs) EXPECT_LE(a.key.offset, a.value.offset);
    }
}

// Fix: a frame of millions of tiny nodes (a 16 MiB inflated zlib bomb) used to allocate ~400
// bytes per 3 input bytes (~2 GiB); decode_node now stops after kDefaultMaxElements.
TEST(ReliabilityWabinary, ElementLimitBoundsTheTreeOfAWideFrame) {
    Bytes b = {0xF8, 0x02, 0x03, 0xF9, 0xFF, 0xFF};  // root with 65535 children...
    for (int i = 0; i < 0xFFFF; i++) b.insert(b.end(), {0xF8, 0x03, 0x03, 0x03, 0x03});  // ...of 1 attr each
    auto r = wabinary::decode_node(b, v3());
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("element limit"), std::string::npos) << r.error;
    size_t elements = 1;
    for (const auto &c : r.root.children) elements += 1 + c.attrs.size();
    EXPECT_LE(elements, wabinary::kDefaultMaxElements);
    EXPECT_GT(elements, wabinary::kDefaultMaxElements - 3);
    // A caller can lower the budget; the same frame under a generous one decodes.
    auto small = wabinary::decode_node(b, v3(), wabinary::kDefaultMaxDepth, 10);
    EXPECT_FALSE(small.ok);
    EXPECT_EQ(small.root.children.size(), 5u);
    auto big = wabinary::decode_node(b, v3(), wabinary::kDefaultMaxDepth, 200000);
    EXPECT_TRUE(big.ok) << big.error;
    EXPECT_EQ(big.root.children.size(), 0xFFFFu);
}

TEST(ReliabilityWabinary, ZlibBombIsCappedAndReported) {
    // 64 MiB of zeros compress to ~64 KiB; the cap (16 MiB) stops the inflate.
    Bytes zeros(size_t(64) << 20, 0);
    Bytes z = zlib_compress(zeros);
    zeros = Bytes();
    Bytes frame = {0x02};
    frame.insert(frame.end(), z.begin(), z.end());
    auto u = wabinary::unpack_frame(frame);
    EXPECT_FALSE(u.ok);
    EXPECT_EQ(u.error, "inflated size exceeds 16777216 bytes");
    EXPECT_TRUE(u.inflated.empty());
    EXPECT_EQ(u.inflated.capacity(), 0u);  // fix: the buffer used to be kept (up to 2 x the cap)

    // Exactly at the cap is fine; one byte over is not.
    Bytes exact(1000, 'a');
    Bytes f2 = {0x02};
    Bytes z2 = zlib_compress(exact);
    f2.insert(f2.end(), z2.begin(), z2.end());
    EXPECT_TRUE(wabinary::unpack_frame(f2, 1000).ok);
    EXPECT_FALSE(wabinary::unpack_frame(f2, 999).ok);

    // A bomb of tiny nodes under the cap: the element limit bounds the decode.
    Bytes nodes = {0xF8, 0x02, 0x03, 0xF9, 0xFF, 0xFF};
    for (int i = 0; i < 0xFFFF; i++) nodes.insert(nodes.end(), {0xF8, 0x02, 0x03, 0xF9, 0x00, 0x10});
    Bytes leafs;
    for (int i = 0; i < 0x10; i++) put_leaf(leafs);
    Bytes big = {0xF8, 0x02, 0x03, 0xF9, 0xFF, 0xFF};
    for (int i = 0; i < 0xFFFF; i++) {
        big.insert(big.end(), {0xF8, 0x02, 0x03, 0xF9, 0x00, 0x10});
        big.insert(big.end(), leafs.begin(), leafs.end());
    }
    Bytes f3 = {0x02};
    Bytes z3 = zlib_compress(big);
    f3.insert(f3.end(), z3.begin(), z3.end());
    EXPECT_LT(z3.size(), size_t(64) << 10);  // a few KiB on the wire
    auto u3 = wabinary::unpack_frame(f3);
    ASSERT_TRUE(u3.ok) << u3.error;  // 3.5 MiB inflated: under the cap
    auto r3 = wabinary::decode_node(u3.node, v3());
    EXPECT_FALSE(r3.ok);
    EXPECT_NE(r3.error.find("element limit"), std::string::npos);
}

TEST(ReliabilityWabinary, EveryTruncationOfAStanzaIsAnErrorWithinTheBuffer) {
    // <call to=JID id="..."><offer call-id="..." call-creator=AD_JID><relay><te2>6 bytes</te2></relay></offer></call>
    Bytes b = {0xF8, 0x06, 0x03, 0x04, 0xFA, 0xFC, 0x03, 'a', 'b', 'c', 0x05, 0x05, 0xFC, 0x04, 'i', 'd', '0', '1',
               0xF8, 0x01, 0xF8, 0x04, 0x06, 0x07, 0xF7, 0x01, 0x00, 0xFC, 0x02, '1', '2',
               0xF8, 0x01, 0xF8, 0x02, 0x08, 0xFC, 0x06, 1, 2, 3, 4, 0x0D, 0x96};
    auto whole = wabinary::decode_node(b, v3());
    ASSERT_TRUE(whole.ok) << whole.error;
    EXPECT_FALSE(whole.trailing_bytes);
    for (size_t n = 0; n < b.size(); n++) {
        auto r = wabinary::decode_node(ByteView(b.data(), n), v3());
        if (whole.ok) {
            EXPECT_FALSE(r.ok) << n;
        }
        EXPECT_LE(r.error_offset, n);
        EXPECT_LE(r.consumed, n);
        if (r.has_root) {
            (void)wabinary::render_xml(r.root);
            call::CallStanza s = call::parse_stanza(r.root);
            (void)s;
        }
    }
}

// ---- Noise ------------------------------------------------------------------------------------

TEST(ReliabilityNoise, HugeEdgeLengthAndTruncatedIntros) {
    const uint8_t huge[] = {0x45, 0x44, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0x57, 0x41, 6, 3};
    EXPECT_EQ(noise::parse_intro(ByteView(huge, sizeof huge)).status, noise::IntroStatus::NotIntro);
    const uint8_t ok[] = {0x45, 0x44, 0x00, 0x01, 0x00, 0x00, 0x02, 0xAA, 0xBB, 0x57, 0x41, 6, 3};
    for (size_t n = 0; n < sizeof ok; n++)
        EXPECT_EQ(noise::parse_intro(ByteView(ok, n)).status, noise::IntroStatus::NeedMore) << n;
    EXPECT_EQ(noise::parse_intro(ByteView(ok, sizeof ok)).status, noise::IntroStatus::Ok);
}

TEST(ReliabilityNoise, HandshakeWithHugeLengthsAndEveryTruncation) {
    // ClientHello {1: 32 bytes} with the inner length claiming 2^63.
    const uint8_t bad[] = {0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x0A, 0x20};
    auto m = noise::parse_handshake(ByteView(bad, sizeof bad));
    EXPECT_TRUE(m.error);
    EXPECT_LE(m.error_offset, sizeof bad);
    Bytes hello = {0x12, 0x22, 0x0A, 0x20};
    for (int i = 0; i < 32; i++) hello.push_back(uint8_t(i));
    ASSERT_TRUE(noise::parse_handshake(hello).ok());
    for (size_t n = 0; n < hello.size(); n++) {
        auto t = noise::parse_handshake(ByteView(hello.data(), n));
        EXPECT_FALSE(t.ok()) << n;
        EXPECT_LE(t.error_offset, n);
    }
    // An 11-byte varint is malformed, not a shift past 64 bits.
    const uint8_t longvar[] = {0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    protowire::Reader r(ByteView(longvar, sizeof longvar));
    protowire::Field f;
    EXPECT_FALSE(r.next(f));
    EXPECT_TRUE(r.error());
}

// ---- media --------------------------------------------------------------------------------------

TEST(ReliabilityMedia, StunHugeLengthAndTruncatedAttributes) {
    Bytes m = {0x00, 0x01, 0xFF, 0xFC, 0x21, 0x12, 0xA4, 0x42};
    for (int i = 0; i < 12; i++) m.push_back(uint8_t(i));
    m.insert(m.end(), {0x40, 0x24, 0xFF, 0xFF, 0x0A});  // attribute claiming 65535 bytes
    media::StunMessage s;
    ASSERT_EQ(media::parse_stun(m, s), media::StunStatus::Ok);
    EXPECT_FALSE(s.warning.empty());
    for (const auto &a : s.attrs) EXPECT_LE(a.value_offset + a.value.size, m.size());
    for (size_t n = 0; n < m.size(); n++) {
        media::StunMessage t;
        if (media::parse_stun(ByteView(m.data(), n), t) == media::StunStatus::Ok) {
            for (const auto &a : t.attrs) EXPECT_LE(a.value_offset + a.value.size, n);
        }
    }
    // Integrity/fingerprint at offsets outside the message are refused.
    EXPECT_EQ(media::compute_message_integrity(m, m.size() + 4, ByteView(m.data(), 4)), std::nullopt);
    EXPECT_FALSE(media::compute_fingerprint(m, m.size() + 4));
    // Deeply nested protobuf: the tree stops at its depth cap.
    Bytes pb;
    for (int i = 0; i < 60; i++) {
        Bytes outer = {0x0A, uint8_t(pb.size())};
        if (pb.size() > 127) break;
        outer.insert(outer.end(), pb.begin(), pb.end());
        pb = outer;
    }
    (void)media::protobuf_tree(pb);
}

TEST(ReliabilityMedia, RtpRtcpTruncationsAndHugeCounts) {
    // X=1 with 65535 extension words declared.
    const uint8_t ext[] = {0x90, 0x78, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 0xBE, 0xDE, 0xFF, 0xFF, 0x10, 0xAA};
    media::RtpHeader h;
    EXPECT_EQ(media::parse_rtp_header(ByteView(ext, sizeof ext), h), media::RtpParseError::ExtTruncated);
    // 15 CSRCs declared in a 12-byte packet.
    const uint8_t csrc[] = {0x8F, 0x78, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4};
    EXPECT_EQ(media::parse_rtp_header(ByteView(csrc, sizeof csrc), h), media::RtpParseError::CsrcTruncated);
    // RTCP: a length word of 65535 in an 8-byte buffer, and a report count of 31.
    const uint8_t rtcp[] = {0x9F, 0xC9, 0xFF, 0xFF, 1, 2, 3, 4};
    media::RtcpCompound rc = media::parse_rtcp_compound(ByteView(rtcp, sizeof rtcp));
    EXPECT_EQ(rc.status, media::RtcpStatus::BadPacket);
    for (const auto &p : rc.packets) EXPECT_LE(p.offset + p.size, sizeof rtcp);
    // Group envelope announcing an 18-byte header on a short packet.
    const uint8_t env[] = {0x09, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_FALSE(media::unwrap_group_envelope(ByteView(env, sizeof env)).ok());
    // SFrame: a header length byte larger than the frame.
    Bytes sf(20, 0);
    sf.back() = 0xFF;
    EXPECT_EQ(media::sframe_parse_header(sf).status, media::SFrameHeaderStatus::BadLength);
}

// ---- key log ------------------------------------------------------------------------------------

TEST(ReliabilityKeyLog, VeryLongLinesAndCrlf) {
    keys::KeyStore ks;
    std::string at_limit = "WA_CALL_KEY a " + K1 + " #";
    at_limit += std::string(keys::KeyStore::kMaxLine - at_limit.size(), 'x');
    ASSERT_EQ(at_limit.size(), keys::KeyStore::kMaxLine);
    std::string text = at_limit + "\r\n" +                                      // 1: at the limit, CRLF
                       "WA_CALL_KEY b " + K1 + " #" + std::string(4096, 'y') + "\n" +  // 2: over
                       std::string(10 << 20, 'z') + "\r\n" +                    // 3: a 10 MiB line
                       "WA_CALL_KEY c " + K2 + "\r\r\n" +                       // 4: stray CR = a field
                       "WA_CALL_KEY d " + K2 + "\r\n";                          // 5: good
    ks.load_text(text, "long.keys");
    EXPECT_NE(ks.call_key("a"), nullptr);
    EXPECT_EQ(ks.call_key("b"), nullptr);
    EXPECT_EQ(count_problems(ks, 2, "too long"), 1u);
    EXPECT_EQ(count_problems(ks, 3, "too long"), 1u);
    EXPECT_EQ(ks.call_key("c"), nullptr);
    EXPECT_EQ(ks.problems().size(), 3u);
    EXPECT_NE(ks.call_key("d"), nullptr);
    for (const auto &p : ks.problems()) {
        EXPECT_EQ(p.file, "long.keys");
        EXPECT_LT(p.message.size(), 200u);  // the offending text is not echoed back whole
    }
}

TEST(ReliabilityKeyLog, ProblemsAreReportedOnceAcrossRefreshesAndAfterAShrink) {
    TempPath f;
    f.write("WA_CALL_KEY a " + K1 + "\nWA_BOGUS 1\nWA_CALL_KEY a " + K2 + "\n");
    keys::KeyStore ks;
    ks.set_path(f.path);
    EXPECT_TRUE(ks.refresh());
    EXPECT_EQ(count_problems(ks, 2, "unknown label"), 1u);
    EXPECT_EQ(count_problems(ks, 3, "differs from line 1"), 1u);
    EXPECT_EQ(ks.problems().size(), 2u);
    for (const auto &p : ks.problems()) EXPECT_EQ(p.file, f.path);
    EXPECT_FALSE(ks.refresh());
    f.write("WA_CALL_KEY b " + K2 + "\n", true);  // growth: the old lines are not re-parsed
    EXPECT_TRUE(ks.refresh());
    EXPECT_EQ(ks.problems().size(), 2u);
    EXPECT_NE(ks.call_key("b"), nullptr);
    // The file shrinks to one bad line: the store is rebuilt and that line reported once.
    f.write("WA_CALL_KEY c zz\n");
    EXPECT_TRUE(ks.refresh());
    EXPECT_EQ(ks.call_key("a"), nullptr);
    EXPECT_EQ(ks.call_key("b"), nullptr);
    ASSERT_EQ(ks.problems().size(), 1u);
    EXPECT_EQ(ks.problems()[0].line, 1u);
    EXPECT_FALSE(ks.refresh());
    EXPECT_EQ(ks.problems().size(), 1u);
    // Truncated to nothing: no keys, no problems.
    f.write("");
    EXPECT_TRUE(ks.refresh());
    EXPECT_TRUE(ks.problems().empty());
    EXPECT_EQ(ks.call_key_count(), 0u);
}

// Fix: a FIFO or a device used to be read with no end (a FIFO blocks the dissector until a
// writer appears; /dev/zero never ends). Only regular files are read now.
TEST(ReliabilityKeyLog, FifoAndDeviceAreRefusedWithoutBlocking) {
    std::string fifo = "/tmp/wacall_rel_fifo_" + std::to_string(getpid());
    std::remove(fifo.c_str());
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    keys::KeyStore ks;
    ks.set_path(fifo);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(ks.refresh());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    ASSERT_EQ(ks.problems().size(), 1u);
    EXPECT_EQ(ks.problems()[0].line, 0u);
    EXPECT_NE(ks.problems()[0].message.find("not a regular file"), std::string::npos);
    EXPECT_FALSE(ks.refresh());
    EXPECT_EQ(ks.problems().size(), 1u);
    std::remove(fifo.c_str());

    keys::KeyStore kz;
    kz.set_path("/dev/zero");
    EXPECT_FALSE(kz.refresh());
    ASSERT_EQ(kz.problems().size(), 1u);
    EXPECT_NE(kz.problems()[0].message.find("not a regular file"), std::string::npos);
}

// Fix: a file that opens but fails to read (EIO) made libstdc++ throw std::ios_base::failure out
// of refresh(), through the C dissector (std::terminate). /proc/self/mem is such a file for any
// user, root included: stat says regular, open works, read(0) fails with EIO.
TEST(ReliabilityKeyLog, UnreadableFileIsReportedOnceAndThrowsNothing) {
    keys::KeyStore ks;
    ks.set_path("/proc/self/mem");
    EXPECT_NO_THROW(ks.refresh());
    ASSERT_EQ(ks.problems().size(), 1u);
    EXPECT_EQ(ks.problems()[0].line, 0u);
    EXPECT_EQ(ks.problems()[0].file, "/proc/self/mem");
    EXPECT_NE(ks.problems()[0].message.find("cannot read"), std::string::npos);
    // Fix: refresh() used to reload (clear the store, bump the generation, return true) on every
    // call while the file stayed unreadable.
    uint64_t g = ks.generation();
    EXPECT_FALSE(ks.refresh());
    EXPECT_FALSE(ks.refresh());
    EXPECT_EQ(ks.generation(), g);
    EXPECT_EQ(ks.problems().size(), 1u);

    // A permission problem (only testable when not root: root reads mode-000 files).
    if (geteuid() != 0) {
        TempPath f;
        f.write("WA_CALL_KEY p " + K1 + "\n");
        ASSERT_EQ(chmod(f.path.c_str(), 0), 0);
        keys::KeyStore kp;
        kp.set_path(f.path);
        kp.refresh();
        ASSERT_EQ(kp.problems().size(), 1u);
        EXPECT_FALSE(kp.refresh());
        // Made readable again: the mode change alone (ctime) is noticed and the keys load.
        ASSERT_EQ(chmod(f.path.c_str(), 0600), 0);
        EXPECT_TRUE(kp.refresh());
        EXPECT_TRUE(kp.problems().empty());
        EXPECT_NE(kp.call_key("p"), nullptr);
    }
}

TEST(ReliabilityKeyLog, MissingFileThenDirectoryThenGoodFile) {
    TempPath f;
    std::string dir = f.path + ".d";
    keys::KeyStore ks;
    ks.set_path(dir);
    EXPECT_FALSE(ks.refresh());
    EXPECT_EQ(count_problems(ks, 0, "cannot open"), 1u);
    ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
    EXPECT_FALSE(ks.refresh());  // still one problem: the file is reported once
    EXPECT_EQ(ks.problems().size(), 1u);
    ASSERT_EQ(rmdir(dir.c_str()), 0);
    {
        std::ofstream o(dir);
        o << "WA_CALL_KEY x " << K1 << "\nWA_NOPE\n";
    }
    EXPECT_TRUE(ks.refresh());
    EXPECT_NE(ks.call_key("x"), nullptr);
    ASSERT_EQ(ks.problems().size(), 1u);
    EXPECT_EQ(ks.problems()[0].line, 2u);
    std::remove(dir.c_str());
}

// Fix (found by fuzz_hbh): with X=0 the spec's "DE BE without X" reading was applied to SRTP
// ciphertext. A packet sent without an extension whose encrypted payload happens to start with
// DE BE (1 in 65,536) failed with BadHeader, or could be decrypted at the wrong offset. DE BE is
// now taken as an extension only when the block it declares fits in the packet.
TEST(ReliabilityMedia, CiphertextStartingWithDebeStillDecrypts) {
    crypto::init();
    Bytes call_key(32);
    for (int i = 0; i < 32; i++) call_key[i] = uint8_t(i);
    media::StreamKeys k;
    ASSERT_TRUE(k.derive(call_key, "222222222222222:0@lid"));
    media::E2EOptions opt;
    Bytes rtp = {0x80, 0x78, 0x00, 0x07, 0, 0, 0x03, 0xC0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0, 0x10, 0x21, 0x32, 0x43};
    // Keystream for this header: protect an all-zero payload.
    Bytes ks(rtp.size() + 4);
    size_t n = 0;
    ASSERT_EQ(media::e2e_protect(k, rtp, 0, opt, ks.data(), ks.size(), n), media::SrtpStatus::Ok);
    // Choose the plaintext so that the ciphertext reads DE BE FF FF (65535 words: cannot fit).
    const uint8_t want[4] = {0xDE, 0xBE, 0xFF, 0xFF};
    for (int i = 0; i < 4; i++) rtp[12 + i] = uint8_t(ks[12 + i] ^ want[i]);
    Bytes prot(rtp.size() + 4);
    ASSERT_EQ(media::e2e_protect(k, rtp, 0, opt, prot.data(), prot.size(), n), media::SrtpStatus::Ok);
    ASSERT_EQ(prot[12], 0xDE);
    ASSERT_EQ(prot[13], 0xBE);
    Bytes back(rtp.size());
    media::RtpUnprotectInfo info;
    ASSERT_EQ(media::e2e_unprotect(k, prot, 0, opt, back.data(), back.size(), &info), media::SrtpStatus::Ok);
    EXPECT_EQ(info.header_len, 12u);
    EXPECT_EQ(back, rtp);
    // The header parsers agree: no extension when the declared block does not fit...
    media::RtpHeader h;
    ASSERT_EQ(media::parse_rtp_header(ByteView(prot.data(), rtp.size()), h), media::RtpParseError::None);
    EXPECT_FALSE(h.has_ext);
    EXPECT_EQ(h.header_len, 12u);
    // ...and the spec's speech header (DE BE 00 00, X=0) is still an extension.
    const uint8_t speech[] = {0x90 & 0xEF, 0xF8, 0, 1, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0xDE, 0xBE, 0, 0};
    ASSERT_EQ(media::parse_rtp_header(ByteView(speech, sizeof speech), h), media::RtpParseError::None);
    EXPECT_TRUE(h.ext_without_x);
    EXPECT_EQ(h.header_len, 16u);
}
