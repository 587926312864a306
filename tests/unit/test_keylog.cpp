// Key log parsing and following a growing file (docs/contract.md, "Key log file").
#include "keys/keylog.h"
#include "keys/participant.h"

#include <gtest/gtest.h>

#include "test_support.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace wacall;
using wacall::test::H;
using namespace wacall::keys;

namespace {

const std::string K1 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string K2 = "A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF";
const std::string K3 = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

std::string lower(std::string s) {
    for (auto &c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// A temp file that removes itself.
struct TempFile {
    std::string path;
    TempFile() {
        char buf[] = "/tmp/wacall_keylog_XXXXXX";
        int fd = mkstemp(buf);
        if (fd >= 0) close(fd);
        path = buf;
    }
    ~TempFile() { std::remove(path.c_str()); }
    void write(const std::string &s, bool append) const {
        std::ofstream o(path, append ? std::ios::app | std::ios::binary : std::ios::trunc | std::ios::binary);
        o << s;
    }
};

bool has_problem(const KeyStore &ks, size_t line, const std::string &needle) {
    for (const auto &p : ks.problems())
        if (p.line == line && p.message.find(needle) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST(KeyLogParticipant, Normalisation) {
    EXPECT_EQ(normalize_participant_id("12345@lid"), "12345:0@lid");
    EXPECT_EQ(normalize_participant_id("12345:6@lid"), "12345:6@lid");
    EXPECT_EQ(normalize_participant_id("12345@lid/abc"), "12345:0@lid");
    EXPECT_EQ(normalize_participant_id("  12345:2@lid "), "12345:2@lid");
    EXPECT_EQ(normalize_participant_id("4915@s.whatsapp.net"), "4915@s.whatsapp.net");
    EXPECT_EQ(normalize_participant_id("4915:3@s.whatsapp.net/x"), "4915:3@s.whatsapp.net");
    EXPECT_EQ(normalize_participant_id("@lid"), "@lid");
    EXPECT_EQ(normalize_participant_id("nojid"), "nojid");
    EXPECT_TRUE(looks_like_jid("1:0@lid"));
    EXPECT_FALSE(looks_like_jid("@lid"));
    EXPECT_FALSE(looks_like_jid("x@"));
}

TEST(KeyLog, EveryGoodLineType) {
    KeyStore ks;
    std::string text =
        "# a comment\n"
        "\n"
        "WA_NOISE_TRAFFIC " + K1 + " " + K2 + " " + K3 + "\n"
        "WA_NOISE_PRIVATE\t" + K2 + "\t" + K3 + "  \t" + K1 + "\n"
        "WA_CALL_KEY CALL-1 " + K3 + "\n"
        "WA_PARTICIPANT CALL-1 48213377210045@lid\n"
        "WA_PARTICIPANT CALL-1 48213377210045:0@lid\n"  // same after normalisation: silent
        "WA_PARTICIPANT CALL-1 99:4@lid/res\n"
        "WA_CALL_EPOCH CALL-1 7 " + K1 + "\n"
        "WA_WARP_TAG_LEN CALL-1 10\n"
        "WA_RELAY_KEY CALL-1 AAECAwQFBgcICQoLDA0ODw==   # trailing comment\n";
    uint64_t g0 = ks.generation();
    EXPECT_TRUE(ks.load_text(text, "t"));
    EXPECT_GT(ks.generation(), g0);
    EXPECT_TRUE(ks.problems().empty()) << ks.problems()[0].message;

    const NoiseTraffic *nt = ks.noise_traffic(H(K1));
    ASSERT_NE(nt, nullptr);
    EXPECT_EQ(to_hex({nt->c2s.data(), 32}), lower(K2));
    EXPECT_EQ(to_hex({nt->s2c.data(), 32}), K3);
    EXPECT_EQ(ks.noise_traffic(H(K2)), nullptr);
    EXPECT_EQ(ks.noise_traffic(H("0011")), nullptr);

    const NoisePrivate *np = ks.noise_private(H(K2));
    ASSERT_NE(np, nullptr);
    EXPECT_EQ(to_hex({np->eph_priv.data(), 32}), K3);
    EXPECT_EQ(to_hex({np->static_priv.data(), 32}), K1);

    ASSERT_NE(ks.call_key("CALL-1"), nullptr);
    EXPECT_EQ(to_hex(*ks.call_key("CALL-1")), K3);
    EXPECT_EQ(ks.call_key("call-1"), nullptr);  // case-sensitive
    EXPECT_EQ(ks.call_key_count(), 1u);

    const auto &parts = ks.participants("CALL-1");
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0], "48213377210045:0@lid");
    EXPECT_EQ(parts[1], "99:4@lid");
    EXPECT_TRUE(ks.participants("nope").empty());

    ASSERT_NE(ks.epoch("CALL-1", 7), nullptr);
    EXPECT_EQ(to_hex(*ks.epoch("CALL-1", 7)), K1);
    EXPECT_EQ(ks.epoch("CALL-1", 8), nullptr);
    EXPECT_EQ(ks.warp_tag_len("CALL-1"), 10);
    EXPECT_EQ(ks.warp_tag_len("other"), 0);
    ASSERT_NE(ks.relay_key("CALL-1"), nullptr);
    EXPECT_EQ(*ks.relay_key("CALL-1"), "AAECAwQFBgcICQoLDA0ODw==");

    // Loading the same text again changes nothing and reports nothing.
    uint64_t g1 = ks.generation();
    EXPECT_FALSE(ks.load_text(text, "t"));
    EXPECT_EQ(ks.generation(), g1);
    EXPECT_TRUE(ks.problems().empty());
}

TEST(KeyLog, CrlfTabsAndCase) {
    KeyStore ks;
    std::string text = "WA_CALL_KEY\t\tc1\t" + K2 + "\r\n  WA_CALL_KEY c2 " + K1 + "\r\n\r\n";
    EXPECT_TRUE(ks.load_text(text, "crlf"));
    EXPECT_TRUE(ks.problems().empty());
    ASSERT_NE(ks.call_key("c1"), nullptr);
    EXPECT_EQ(to_hex(*ks.call_key("c1")), lower(K2));
    ASSERT_NE(ks.call_key("c2"), nullptr);
}

TEST(KeyLog, BadLinesAreReportedAndTheRestIsUsed) {
    KeyStore ks;
    std::string text =
        "WA_CALL_KEY good1 " + K1 + "\n"                       // 1
        "WA_BOGUS x y\n"                                       // 2 unknown label
        "WA_CALL_KEY c " + K1.substr(0, 62) + "\n"             // 3 wrong length
        "WA_CALL_KEY c " + K1.substr(0, 63) + "g\n"            // 4 non-hex
        "WA_CALL_KEY c " + K1 + " extra\n"                     // 5 extra field
        "WA_NOISE_TRAFFIC " + K1 + " " + K2 + "\n"             // 6 missing field
        "WA_CALL_KEY good1 " + K2 + "\n"                       // 7 disagreeing duplicate
        "WA_CALL_KEY good1 " + lower(K1) + "\n"                // 8 agreeing duplicate: silent
        "WA_CALL_KEY long " + K1 + " #" + std::string(5000, 'x') + "\n"  // 9 too long
        "WA_PARTICIPANT c not-a-jid\n"                         // 10
        "WA_CALL_EPOCH c 99999999999 " + K1 + "\n"             // 11 bad transaction id
        "WA_WARP_TAG_LEN c 21\n"                               // 12 out of range
        "WA_WARP_TAG_LEN c 0\n"                                // 13 out of range
        "WA_WARP_TAG_LEN c2 4\n"                               // 14
        "WA_WARP_TAG_LEN c2 5\n"                               // 15 disagree
        "WA_RELAY_KEY c2 abc\n"                                // 16
        "WA_RELAY_KEY c2 abd\n"                                // 17 disagree
        "WA_NOISE_PRIVATE " + K1 + " " + K2 + " zz" + K3.substr(2) + "\n"  // 18 non-hex
        "WA_CALL_KEY good2 " + K3;                             // 19, no final newline
    EXPECT_TRUE(ks.load_text(text, "bad.log"));
    EXPECT_TRUE(has_problem(ks, 2, "unknown label"));
    EXPECT_TRUE(has_problem(ks, 3, "64 hex digits"));
    EXPECT_TRUE(has_problem(ks, 4, "not hex"));
    EXPECT_TRUE(has_problem(ks, 5, "needs 2 fields, got 3"));
    EXPECT_TRUE(has_problem(ks, 6, "needs 3 fields, got 2"));
    EXPECT_TRUE(has_problem(ks, 7, "differs from line 1"));
    EXPECT_TRUE(has_problem(ks, 9, "too long"));
    EXPECT_TRUE(has_problem(ks, 10, "not a JID"));
    EXPECT_TRUE(has_problem(ks, 11, "transaction-id"));
    EXPECT_TRUE(has_problem(ks, 12, "1..20"));
    EXPECT_TRUE(has_problem(ks, 13, "1..20"));
    EXPECT_TRUE(has_problem(ks, 15, "disagrees"));
    EXPECT_TRUE(has_problem(ks, 17, "disagrees"));
    EXPECT_TRUE(has_problem(ks, 18, "not hex"));
    EXPECT_EQ(ks.problems().size(), 14u);
    for (const auto &p : ks.problems()) EXPECT_EQ(p.file, "bad.log");
    // Both values of the disagreeing call key are candidates, the first preferred until another
    // authenticates; the good lines are used.
    EXPECT_EQ(to_hex(*ks.call_key("good1")), K1);
    ASSERT_EQ(ks.call_key_candidates("good1").size(), 2u);
    EXPECT_EQ(ks.call_key_candidates("good1")[1].line, 7u);
    ASSERT_NE(ks.call_key("good2"), nullptr);
    EXPECT_EQ(ks.call_key("c"), nullptr);
    EXPECT_EQ(ks.call_key("long"), nullptr);
    EXPECT_EQ(ks.call_key_count(), 2u);
    EXPECT_EQ(ks.warp_tag_len("c"), 0);
    EXPECT_EQ(ks.warp_tag_len("c2"), 4);
    EXPECT_EQ(*ks.relay_key("c2"), "abc");
    EXPECT_TRUE(ks.participants("c").empty());
}

TEST(KeyLog, JsonLines) {
    KeyStore ks;
    std::string text =
        "{\"call_id\":\"J1\",\"call_key_hex\":\"" + K2 + "\",\"self_lid\":\"111@lid\",\"peer_lid\":\"222:3@lid\","
        "\"from\":\"222:3@lid\",\"extra\":42}\n"                                       // 1 good
        "  {\"call_id\":\"J2\",\"call_key_hex\":\"" + K1 + "\",\"self_lid\":null}\r\n"  // 2 good, null ignored
        "{\"call_id\":\"J3\"}\n"                                                        // 3 no key
        "{\"call_id\":\"J4\",\"call_key_hex\":\"abcd\"}\n"                              // 4 short key
        "{\"call_id\":\"J5\",\"call_key_hex\":\"" + K1 + "\"\n"                         // 5 broken JSON
        "{\"call_id\":5,\"call_key_hex\":\"" + K1 + "\"}\n"                             // 6 wrong type
        "{\"call_key_hex\":\"" + K1 + "\"}\n"                                           // 7 no call id
        "{\"call_id\":\"J1\",\"call_key_hex\":\"" + K1 + "\"}\n";                       // 8 disagrees
    EXPECT_TRUE(ks.load_text(text, "j"));
    ASSERT_NE(ks.call_key("J1"), nullptr);
    EXPECT_EQ(to_hex(*ks.call_key("J1")), lower(K2));
    const auto &p = ks.participants("J1");
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0], "111:0@lid");
    EXPECT_EQ(p[1], "222:3@lid");
    ASSERT_NE(ks.call_key("J2"), nullptr);
    EXPECT_TRUE(ks.participants("J2").empty());
    EXPECT_TRUE(has_problem(ks, 3, "call_key_hex"));
    EXPECT_TRUE(has_problem(ks, 4, "64 hex digits"));
    EXPECT_TRUE(has_problem(ks, 5, "invalid JSON"));
    EXPECT_TRUE(has_problem(ks, 6, "not a string"));
    EXPECT_TRUE(has_problem(ks, 7, "call_id"));
    EXPECT_TRUE(has_problem(ks, 8, "differs from line 1"));
    EXPECT_EQ(ks.problems().size(), 6u);
    EXPECT_EQ(ks.call_key_count(), 2u);
}

TEST(KeyLog, FileGrowthPartialLineAndShrink) {
    TempFile f;
    KeyStore ks;
    f.write("WA_CALL_KEY a " + K1 + "\n", false);
    ks.set_path(f.path);
    EXPECT_TRUE(ks.refresh());
    EXPECT_NE(ks.call_key("a"), nullptr);
    uint64_t g = ks.generation();
    EXPECT_FALSE(ks.refresh());  // nothing changed: cheap and no new generation
    EXPECT_EQ(ks.generation(), g);

    // Append a complete line.
    f.write("WA_CALL_KEY b " + K2 + "\n", true);
    EXPECT_TRUE(ks.refresh());
    EXPECT_NE(ks.call_key("b"), nullptr);
    EXPECT_GT(ks.generation(), g);

    // A last line without newline is used right away...
    f.write("WA_CALL_KEY c " + K3, true);
    EXPECT_TRUE(ks.refresh());
    EXPECT_NE(ks.call_key("c"), nullptr);
    // ...and completing it neither loses nor double-reports it.
    f.write("\n", true);
    ks.refresh();
    EXPECT_NE(ks.call_key("c"), nullptr);
    EXPECT_TRUE(ks.problems().empty());

    // A half-written line is reported tentatively, then replaced once it is complete.
    f.write("WA_CALL_KEY d " + K1.substr(0, 20), true);
    ks.refresh();
    EXPECT_EQ(ks.call_key("d"), nullptr);
    ASSERT_EQ(ks.problems().size(), 1u);
    EXPECT_EQ(ks.problems()[0].line, 4u);
    EXPECT_FALSE(ks.refresh());  // unchanged: not reported twice
    struct timespec later[2] = {{0, UTIME_OMIT}, {2000000000, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, f.path.c_str(), later, 0), 0);  // touched, same content
    EXPECT_FALSE(ks.refresh());
    EXPECT_EQ(ks.problems().size(), 1u);
    f.write(K1.substr(20) + "\r\nWA_PARTICIPANT d 5@lid\n", true);
    EXPECT_TRUE(ks.refresh());
    ASSERT_NE(ks.call_key("d"), nullptr);
    EXPECT_EQ(to_hex(*ks.call_key("d")), K1);
    EXPECT_TRUE(ks.problems().empty());
    ASSERT_EQ(ks.participants("d").size(), 1u);
    EXPECT_EQ(ks.participants("d")[0], "5:0@lid");

    // A bad complete line keeps its line number across refreshes.
    f.write("WA_NOPE\n", true);
    ks.refresh();
    ASSERT_EQ(ks.problems().size(), 1u);
    EXPECT_EQ(ks.problems()[0].line, 6u);
    EXPECT_EQ(ks.call_key_count(), 4u);

    // Shrink: reload from scratch, the removed keys are gone.
    f.write("WA_CALL_KEY z " + K2 + "\n", false);
    EXPECT_TRUE(ks.refresh());
    EXPECT_EQ(ks.call_key("a"), nullptr);
    EXPECT_EQ(ks.call_key("d"), nullptr);
    EXPECT_NE(ks.call_key("z"), nullptr);
    EXPECT_EQ(ks.call_key_count(), 1u);
    EXPECT_TRUE(ks.problems().empty());
}

TEST(KeyLog, ReplacedFileOfTheSameOrLargerSizeIsReloaded) {
    TempFile f;
    KeyStore ks;
    f.write("WA_CALL_KEY a " + K1 + "\n", false);
    ks.set_path(f.path);
    ks.refresh();
    // Rewrite in place, longer, with a different first line: the prefix check catches it.
    f.write("WA_CALL_KEY q " + K1 + "\nWA_CALL_KEY r " + K2 + "\n", false);
    EXPECT_TRUE(ks.refresh());
    EXPECT_EQ(ks.call_key("a"), nullptr);
    EXPECT_NE(ks.call_key("q"), nullptr);
    EXPECT_NE(ks.call_key("r"), nullptr);
    // Replace by rename (new inode).
    std::string other = f.path + ".new";
    {
        std::ofstream o(other);
        o << "WA_CALL_KEY s " + K3 + "\n";
    }
    ASSERT_EQ(std::rename(other.c_str(), f.path.c_str()), 0);
    EXPECT_TRUE(ks.refresh());
    EXPECT_EQ(ks.call_key("q"), nullptr);
    EXPECT_NE(ks.call_key("s"), nullptr);
}

TEST(KeyLog, MissingFileAndDirectory) {
    KeyStore ks;
    ks.set_path("/nonexistent/wacall/keys.log");
    EXPECT_FALSE(ks.refresh());
    ASSERT_EQ(ks.problems().size(), 1u);
    EXPECT_EQ(ks.problems()[0].line, 0u);
    EXPECT_EQ(ks.problems()[0].file, "/nonexistent/wacall/keys.log");
    EXPECT_FALSE(ks.refresh());
    EXPECT_EQ(ks.problems().size(), 1u);  // reported once

    KeyStore kd;
    kd.set_path("/tmp");
    EXPECT_FALSE(kd.refresh());
    ASSERT_EQ(kd.problems().size(), 1u);
    EXPECT_NE(kd.problems()[0].message.find("directory"), std::string::npos);

    // A file that appears later is loaded, and the old problem goes away.
    TempFile f;
    std::string path = f.path + ".later";
    KeyStore kl;
    kl.set_path(path);
    EXPECT_FALSE(kl.refresh());
    EXPECT_EQ(kl.problems().size(), 1u);
    {
        std::ofstream o(path);
        o << "WA_CALL_KEY x " << K1 << "\n";
    }
    EXPECT_TRUE(kl.refresh());
    EXPECT_NE(kl.call_key("x"), nullptr);
    EXPECT_TRUE(kl.problems().empty());
    std::remove(path.c_str());

    // Switching path drops the old keys.
    kl.set_path("");
    EXPECT_EQ(kl.call_key("x"), nullptr);
    EXPECT_FALSE(kl.refresh());
}

TEST(KeyLog, TenThousandCallKeysLoadFast) {
    std::string text;
    text.reserve(10000 * 100);
    char id[32];
    for (int i = 0; i < 10000; i++) {
        std::snprintf(id, sizeof id, "call-%06d", i);
        text += "WA_CALL_KEY ";
        text += id;
        text += ' ';
        text += K1;
        text += '\n';
    }
    TempFile f;
    f.write(text, false);
    KeyStore ks;
    ks.set_path(f.path);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(ks.refresh());
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(ks.call_key_count(), 10000u);
    EXPECT_TRUE(ks.problems().empty());
    EXPECT_LT(ms, 100.0);
    EXPECT_NE(ks.call_key("call-009999"), nullptr);
    // Appending one more line parses only the new line.
    f.write("WA_CALL_KEY call-x " + K2 + "\n", true);
    t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(ks.refresh());
    ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(ks.call_key_count(), 10001u);
    EXPECT_LT(ms, 10.0);
}

TEST(KeyLog, EpochsPerCallAndHbhKey) {
    KeyStore ks;
    const std::string hbh = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d";
    std::string text =
        "WA_CALL_EPOCH G1 12 " + K2 + "\n"
        "WA_CALL_EPOCH G1 3 " + K1 + "\n"
        "WA_CALL_EPOCH G10 1 " + K3 + "\n"  // another call whose id shares the prefix
        "WA_HBH_KEY G1 " + hbh + "\n"
        "WA_HBH_KEY G2 4041\n"                // too short
        "WA_HBH_KEY G1 " + std::string(60, '0') + "\n";  // disagrees: first stays
    ks.load_text(text, "t");
    auto e = ks.epochs("G1");
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0].first, 3u);
    EXPECT_EQ(to_hex(*e[0].second), lower(K1));
    EXPECT_EQ(e[1].first, 12u);
    EXPECT_EQ(to_hex(*e[1].second), lower(K2));
    EXPECT_EQ(ks.epochs("G10").size(), 1u);
    EXPECT_TRUE(ks.epochs("G").empty());
    ASSERT_NE(ks.hbh_key("G1"), nullptr);
    EXPECT_EQ(to_hex(*ks.hbh_key("G1")), hbh);
    EXPECT_EQ(ks.hbh_key("G2"), nullptr);
    EXPECT_TRUE(has_problem(ks, 5, "60 hex digits"));
    EXPECT_TRUE(has_problem(ks, 6, "disagrees"));
}

// ---- issue 16: bad input is said, nothing is silently lost -------------------------------------

namespace {

std::string utf16(const std::string &ascii, bool le, bool bom) {
    std::string out;
    if (bom) out += le ? "\xFF\xFE" : "\xFE\xFF";
    for (char c : ascii) {
        if (le) out += c, out += '\0';
        else out += '\0', out += c;
    }
    return out;
}

size_t count_kind(const KeyStore &ks, Problem::Kind kind) {
    size_t n = 0;
    for (const auto &p : ks.problems()) n += p.kind == kind;
    return n;
}

}  // namespace

TEST(KeyLogBadInput, Utf8ByteOrderMarkIsSkipped) {
    KeyStore ks;
    EXPECT_TRUE(ks.load_text("\xEF\xBB\xBFWA_CALL_KEY bom " + K1 + "\r\n", "bom.txt"));
    EXPECT_TRUE(ks.problems().empty()) << ks.problems()[0].message;
    ASSERT_NE(ks.call_key("bom"), nullptr);
    // From a file too, then grown: the mark is only skipped on line 1.
    TempFile f;
    f.write("\xEF\xBB\xBFWA_CALL_KEY a " + K1 + "\n", false);
    KeyStore kf;
    kf.set_path(f.path);
    EXPECT_TRUE(kf.refresh());
    EXPECT_NE(kf.call_key("a"), nullptr);
    f.write("\xEF\xBB\xBFWA_CALL_KEY b " + K2 + "\n", true);
    kf.refresh();  // loads nothing new: false, but the problem is recorded
    EXPECT_EQ(kf.call_key("b"), nullptr);
    ASSERT_EQ(kf.problems().size(), 1u);
    EXPECT_EQ(kf.problems()[0].line, 2u);
    // The stray mark is visible in the message, not an invisible prefix inside the quotes.
    EXPECT_NE(kf.problems()[0].message.find("\"\\xef\\xbb\\xbfWA_CALL_KEY\""), std::string::npos)
        << kf.problems()[0].message;
}

TEST(KeyLogBadInput, ControlBytesInALabelAreEscapedNotCut) {
    KeyStore ks;
    ks.load_text(std::string("WA_\0CALL_KEY x y\n", 17), "nul.txt");
    ASSERT_EQ(ks.problems().size(), 1u);
    const std::string &m = ks.problems()[0].message;
    EXPECT_EQ(m.find('\0'), std::string::npos);
    EXPECT_NE(m.find("\"WA_\\x00CALL_KEY\""), std::string::npos) << m;
}

TEST(KeyLogBadInput, Utf16FilesAreReadAndSaidSo) {
    const std::string text = "# keys\r\nWA_CALL_KEY le " + K1 + "\r\nWA_PARTICIPANT le 111@lid\r\n";
    for (bool le : {true, false}) {
        for (bool bom : {true, false}) {
            TempFile f;
            f.write(utf16(text, le, bom), false);
            KeyStore ks;
            ks.set_path(f.path);
            EXPECT_TRUE(ks.refresh());
            ASSERT_NE(ks.call_key("le"), nullptr) << le << bom;
            EXPECT_EQ(to_hex(*ks.call_key("le")), lower(K1));
            EXPECT_EQ(ks.participants("le").size(), 1u);
            EXPECT_EQ(ks.encoding(), le ? "UTF-16LE" : "UTF-16BE");
            ASSERT_EQ(ks.problems().size(), 1u);
            EXPECT_EQ(ks.problems()[0].kind, Problem::Note);
            EXPECT_NE(ks.problems()[0].message.find(le ? "UTF-16LE" : "UTF-16BE"), std::string::npos);
            // Appending (in UTF-16) is followed like any other growth.
            f.write(utf16("WA_CALL_KEY more " + K2 + "\r\n", le, false), true);
            EXPECT_TRUE(ks.refresh());
            EXPECT_NE(ks.call_key("more"), nullptr);
            EXPECT_NE(ks.call_key("le"), nullptr);
        }
    }
    // A line problem in a UTF-16 file names the right line and is not cut at a NUL.
    TempFile g;
    g.write(utf16("WA_CALL_KEY ok " + K1 + "\nWA_NOPE x\n", true, true), false);
    KeyStore kg;
    kg.set_path(g.path);
    kg.refresh();
    ASSERT_EQ(count_kind(kg, Problem::Line), 1u);
    EXPECT_TRUE(has_problem(kg, 2, "unknown label \"WA_NOPE\""));
    // Not valid UTF-16 (a lone surrogate): rejected as a file problem naming UTF-16.
    TempFile h;
    h.write(std::string("\xFF\xFE", 2) + std::string("W\0A\0\x00\xD8\n\0", 8), false);
    KeyStore kh;
    kh.set_path(h.path);
    kh.refresh();
    ASSERT_EQ(count_kind(kh, Problem::File), 1u);
    EXPECT_NE(kh.problems()[0].message.find("UTF-16LE"), std::string::npos) << kh.problems()[0].message;
}

TEST(KeyLogBadInput, PastTheCapTheRestIsCountedAndConflictsAndFileProblemsStillShown) {
    std::string text = "WA_CALL_KEY c " + K1 + "\n";
    for (int i = 0; i < 1500; i++) text += "WA_BOGUS " + std::to_string(i) + "\n";
    text += "WA_CALL_KEY c " + K2 + "\n";  // line 1502: a disagreement after the garbage
    KeyStore ks;
    ks.load_text(text, "big.txt");
    EXPECT_EQ(count_kind(ks, Problem::Line), KeyStore::kMaxProblems);
    EXPECT_EQ(ks.suppressed(), 1500u - KeyStore::kMaxProblems);
    EXPECT_TRUE(has_problem(ks, 1502, "differs from line 1"));
    EXPECT_EQ(ks.call_key_candidates("c").size(), 2u);

    // A file problem after the cap is still recorded, and problem_serial() moves although
    // refresh() loaded nothing (the glue reports by the serial, not by refresh()'s result).
    TempFile f;
    f.write(text, false);
    KeyStore kf;
    kf.set_path(f.path);
    EXPECT_TRUE(kf.refresh());
    EXPECT_EQ(kf.suppressed(), 500u);
    std::remove(f.path.c_str());
    uint64_t serial = kf.problem_serial();
    EXPECT_FALSE(kf.refresh());
    EXPECT_NE(kf.problem_serial(), serial);
    ASSERT_EQ(count_kind(kf, Problem::File), 1u);
    EXPECT_EQ(kf.problems().back().kind, Problem::File);
    EXPECT_NE(kf.problems().back().message.find("No such file"), std::string::npos);
    EXPECT_NE(kf.call_key("c"), nullptr);  // keys already loaded stay usable
}

TEST(KeyLogBadInput, MissingDirectoryAndFifoAreFileProblemsThatMoveTheSerial) {
    TempFile f;
    const std::string fifo = f.path + ".fifo";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    for (const std::string &path : {std::string("/nonexistent/wacall.keys"), std::string("/tmp"), fifo}) {
        KeyStore ks;
        ks.set_path(path);
        uint64_t serial = ks.problem_serial();
        EXPECT_FALSE(ks.refresh());
        EXPECT_NE(ks.problem_serial(), serial) << path;
        ASSERT_EQ(ks.problems().size(), 1u);
        EXPECT_EQ(ks.problems()[0].kind, Problem::File);
        EXPECT_EQ(ks.problems()[0].file, path);
        serial = ks.problem_serial();
        EXPECT_FALSE(ks.refresh());
        EXPECT_EQ(ks.problem_serial(), serial);  // once
    }
    std::remove(fifo.c_str());
}

TEST(KeyLogBadInput, DisagreeingCallKeysAreBoundedCandidates) {
    std::string text;
    for (int i = 0; i < 10; i++) {
        std::string k = K1;
        k[63] = "0123456789"[i];
        text += "WA_CALL_KEY c " + k + "\n";  // lines 1..10, all different
    }
    text += "WA_CALL_KEY c " + K1.substr(0, 63) + "3\n";  // 11: same as line 4: silent
    KeyStore ks;
    ks.load_text(text, "many.txt");
    auto c = ks.call_key_candidates("c");
    ASSERT_EQ(c.size(), KeyStore::kMaxCandidates);
    for (size_t i = 0; i < c.size(); i++) EXPECT_EQ(c[i].line, i + 1);
    EXPECT_TRUE(has_problem(ks, 2, "differs from line 1"));
    EXPECT_TRUE(has_problem(ks, 9, "this one is ignored"));
    EXPECT_TRUE(has_problem(ks, 10, "this one is ignored"));
    EXPECT_EQ(ks.problems().size(), 9u);
    // The winner becomes the call's key; nothing is added or dropped, so no new generation.
    uint64_t g = ks.generation(), p = ks.preferences();
    EXPECT_EQ(ks.call_key("c"), c[0].key);
    ks.prefer_call_key("c", 5);
    EXPECT_EQ(ks.call_key("c"), c[5].key);
    EXPECT_EQ(ks.generation(), g);
    EXPECT_NE(ks.preferences(), p);
}

TEST(KeyLogBadInput, DisagreeingNoiseLinesAreCandidatesWithTheirLines) {
    const std::string text = "WA_NOISE_TRAFFIC " + K1 + " " + K2 + " " + K3 + "\n"
                             "WA_NOISE_TRAFFIC " + K1 + " " + K3 + " " + K2 + "\n"
                             "WA_NOISE_TRAFFIC " + K1 + " " + K2 + " " + K3 + "\n"  // agrees with line 1
                             "WA_NOISE_PRIVATE " + K1 + " " + K2 + " " + K3 + "\n"
                             "WA_NOISE_PRIVATE " + K1 + " " + K3 + " " + K3 + "\n";
    KeyStore ks;
    ks.load_text(text, "n.txt");
    Bytes pub = H(K1);
    auto t = ks.noise_traffic_candidates(ByteView(pub));
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0]->line, 1u);
    EXPECT_EQ(t[1]->line, 2u);
    EXPECT_EQ(to_hex(Bytes(t[1]->c2s.begin(), t[1]->c2s.end())), K3);
    EXPECT_EQ(ks.all_noise_traffic().size(), 2u);  // mid-stream pickup tries both
    auto p = ks.noise_private_candidates(ByteView(pub));
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[1]->line, 5u);
    EXPECT_TRUE(has_problem(ks, 2, "differs from line 1"));
    EXPECT_TRUE(has_problem(ks, 5, "differs from line 4"));
    EXPECT_EQ(ks.problems().size(), 2u);
}

TEST(KeyLogBadInput, AnUnfinishedDisagreeingLineIsTakenBackWhenCompletedDifferently) {
    TempFile f;
    f.write("WA_CALL_KEY a " + K1 + "\nWA_CALL_KEY a " + K2, false);  // line 2 unterminated
    KeyStore ks;
    ks.set_path(f.path);
    EXPECT_TRUE(ks.refresh());
    EXPECT_EQ(ks.call_key_candidates("a").size(), 2u);
    EXPECT_EQ(ks.problems().size(), 1u);
    f.write("WA_CALL_KEY a " + K1 + "\nWA_CALL_KEY a " + K3 + "\n", false);  // line 2 finished differently
    EXPECT_TRUE(ks.refresh());
    auto c = ks.call_key_candidates("a");
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(to_hex(*c[1].key), K3);
    EXPECT_EQ(ks.problems().size(), 1u);
}

TEST(KeyLogBadInput, ACorrectedKeyAppendedLaterBecomesACandidate) {
    TempFile f;
    f.write("WA_CALL_KEY a " + K1 + "\n", false);  // the wrong key
    KeyStore ks;
    ks.set_path(f.path);
    EXPECT_TRUE(ks.refresh());
    const uint64_t g = ks.generation(), clears = ks.clears();
    f.write("# corrected\nWA_CALL_KEY a " + K2 + "\n", true);
    EXPECT_TRUE(ks.refresh());  // growth: a new candidate is something new
    EXPECT_NE(ks.generation(), g);
    EXPECT_EQ(ks.clears(), clears);  // nothing dropped: packets already authenticated stay valid
    auto c = ks.call_key_candidates("a");
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[1].line, 3u);
    EXPECT_EQ(to_hex(*c[1].key), lower(K2));
    EXPECT_TRUE(has_problem(ks, 3, "differs from line 1; both are tried"));
}

TEST(KeyLogBadInput, DisagreeingEpochsAreCandidatesPerTransaction) {
    KeyStore ks;
    ks.load_text("WA_CALL_EPOCH g 1 " + K1 + "\n"   // 1
                 "WA_CALL_EPOCH g 2 " + K2 + "\n"   // 2
                 "WA_CALL_EPOCH g 1 " + K3 + "\n"   // 3: differs from line 1
                 "WA_CALL_EPOCH g 1 " + K1 + "\n",  // 4: agrees with line 1
                 "e.txt");
    auto c = ks.epoch_candidates("g");
    ASSERT_EQ(c.size(), 3u);
    EXPECT_EQ(c[0].transaction_id, 1u);
    EXPECT_EQ(c[0].index, 0u);
    EXPECT_EQ(c[0].line, 1u);
    EXPECT_EQ(c[1].transaction_id, 1u);
    EXPECT_EQ(c[1].index, 1u);
    EXPECT_EQ(c[1].line, 3u);
    EXPECT_EQ(to_hex(*c[1].key), K3);
    EXPECT_EQ(c[2].transaction_id, 2u);
    EXPECT_EQ(ks.epochs("g").size(), 2u);  // first values, one per transaction
    EXPECT_EQ(to_hex(*ks.epoch("g", 1)), lower(K1));
    ASSERT_EQ(ks.problems().size(), 1u);
    EXPECT_TRUE(has_problem(ks, 3, "differs from line 1 for the same call and transaction"));
}
