// WABinary: frame unpacking (zlib), node decoding pinned to the whatsapp-rust vectors (digest
// §5.2), JIDs, error paths with partial trees, both dictionary versions, and the XML rendering.
#include "wabinary/decoder.h"
#include "wabinary/frame.h"
#include "wabinary/render.h"

#include <gtest/gtest.h>

#include "test_support.h"
#include <zlib.h>

#include <ctime>
#include <cstdio>
#include <deque>

using namespace wacall;
using wacall::test::zlib_compress;
using wacall::test::H;
using namespace wacall::wabinary;

namespace {

const Dictionary *v3() { return dictionary_for_version(3); }
const Dictionary *v2() { return dictionary_for_version(2); }

DecodeResult dec(const Bytes &b, const Dictionary *d = nullptr) { return decode_node(b, d ? d : v3()); }
// A temporary buffer is kept: the result's texts and bytes are views into it.
DecodeResult dec(Bytes &&b, const Dictionary *d = nullptr) {
    static std::deque<Bytes> kept;
    kept.push_back(std::move(b));
    return dec(kept.back(), d);
}

const char *kOffer =
    "00f8066411f70100ff88222222222222222f08fb0a3eb0abcdef0123456789f801f806ec1c68fb1000112233445566778899aabbccdd"
    "eeff47f70100ff88111111111111111ff805f805a11dec1eec1dff8316000ff803ec68ec24a2f804b4ec2155fc070105f709e0bb13f8"
    "081d51450453412dfc02deadf803ec15ec1a45";

const char *kSuccess =
    "f80f4c1aff0517520218905cee043dfc0366726376f7012aff88100000000000001f4becb43cff051752020041ece6fc2c643559623557"
    "784c2b6b35554b5148564936627546524751456a30475a413565767a3862365632786b64773d";

Bytes offer_node_bytes() {
    Bytes f = H(kOffer);
    return Bytes(f.begin() + 1, f.end());
}

}  // namespace

// ---- unpack_frame -----------------------------------------------------------------------------

TEST(WaBinaryFrame, PlainFrame) {
    Bytes f = H("00f8021307");
    Unpacked u = unpack_frame(f);
    ASSERT_TRUE(u.ok) << u.error;
    EXPECT_EQ(u.format, 0);
    EXPECT_FALSE(u.compressed);
    EXPECT_EQ(u.node.data, f.data() + 1);
    EXPECT_EQ(to_hex(u.node), "f8021307");
    EXPECT_FALSE(unpack_frame({}).ok);
}

TEST(WaBinaryFrame, ZlibRoundTrip) {
    Bytes node = offer_node_bytes();
    Bytes f = {0x02};
    Bytes z = zlib_compress(node);
    f.insert(f.end(), z.begin(), z.end());
    Unpacked u = unpack_frame(f);
    ASSERT_TRUE(u.ok) << u.error;
    EXPECT_TRUE(u.compressed);
    EXPECT_EQ(u.format, 2);
    EXPECT_EQ(u.node.to_bytes(), node);
    EXPECT_EQ(u.node.data, u.inflated.data());
    Unpacked moved = std::move(u);  // the view survives a move
    DecodeResult r = decode_node(moved.node, v3());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.tag.text, "call");

    // A large compressible node grows the output buffer several times.
    Bytes big = {0xF8, 0x02, 0x13, 0xFE, 0x00, 0x03, 0x00, 0x00};
    big.resize(big.size() + 0x30000, 'a');
    f = {0x06};  // other format bits are reported, only 0x02 matters
    z = zlib_compress(big);
    f.insert(f.end(), z.begin(), z.end());
    u = unpack_frame(f);
    ASSERT_TRUE(u.ok) << u.error;
    EXPECT_EQ(u.format, 6);
    EXPECT_EQ(u.inflated, big);
    r = decode_node(u.node, v3());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.content.bytes.size, 0x30000u);
    EXPECT_TRUE(r.root.content.printable);
}

TEST(WaBinaryFrame, ZlibBombCapAndBadStreams) {
    Bytes zeros(1 << 20, 0);
    Bytes f = {0x02};
    Bytes z = zlib_compress(zeros);
    f.insert(f.end(), z.begin(), z.end());
    EXPECT_LT(f.size(), 5000u);
    Unpacked u = unpack_frame(f, 65536);
    EXPECT_FALSE(u.ok);
    EXPECT_EQ(u.error, "inflated size exceeds 65536 bytes");
    EXPECT_TRUE(u.inflated.empty());
    // Exactly at the cap is fine; one byte under is not.
    u = unpack_frame(f, 1 << 20);
    ASSERT_TRUE(u.ok) << u.error;
    EXPECT_EQ(u.node.size, size_t(1) << 20);
    u = unpack_frame(f, (1 << 20) - 1);
    EXPECT_FALSE(u.ok);
    EXPECT_EQ(u.error, "inflated size exceeds 1048575 bytes");
    // The default cap is 16 MiB.
    EXPECT_TRUE(unpack_frame(f).ok);

    Bytes trunc(f.begin(), f.begin() + static_cast<long>(f.size() / 2));
    u = unpack_frame(trunc);
    EXPECT_FALSE(u.ok);
    EXPECT_EQ(u.error, "truncated zlib stream");
    u = unpack_frame(H("02deadbeef"));
    EXPECT_FALSE(u.ok);
    EXPECT_EQ(u.error, "invalid zlib data");
    EXPECT_FALSE(unpack_frame(H("02")).ok);
}

// ---- §5.2 vectors -----------------------------------------------------------------------------

TEST(WaBinaryDecode, MessageReceipt) {
    Bytes f = H("00f8021307");
    Unpacked u = unpack_frame(f);
    ASSERT_TRUE(u.ok);
    DecodeResult r = decode_node(u.node, v3());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.trailing_bytes);
    EXPECT_EQ(r.consumed, 4u);
    EXPECT_EQ(r.root.tag.text, "message");
    EXPECT_EQ(r.root.tag.kind, ValueKind::Token);
    EXPECT_TRUE(r.root.attrs.empty());
    EXPECT_FALSE(r.root.has_children);
    EXPECT_EQ(r.root.content.kind, ValueKind::Token);
    EXPECT_EQ(r.root.content.text, "receipt");
    EXPECT_EQ(r.root.content.offset, 3u);
    EXPECT_EQ(r.root.content.length, 1u);
    EXPECT_EQ(render_xml(r.root), "<message>receipt</message>");
}

TEST(WaBinaryDecode, TestNibbleContent) {
    Bytes f = H("00f802fc0474657374ff06ab0123456789");
    Unpacked u = unpack_frame(f);
    DecodeResult r = decode_node(u.node, v3());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.tag.kind, ValueKind::Binary);
    EXPECT_TRUE(r.root.tag.printable);
    EXPECT_EQ(r.root.tag.text, "test");
    EXPECT_EQ(r.root.content.kind, ValueKind::Packed);
    EXPECT_EQ(r.root.content.wire_tag, NIBBLE_8);
    EXPECT_EQ(r.root.content.text, "-.0123456789");
    EXPECT_EQ(render_xml(r.root), "<test>-.0123456789</test>");
}

TEST(WaBinaryDecode, EmptyStringIsEmptyBytes) {
    DecodeResult r = dec(H("f80213fc00"));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.content.kind, ValueKind::Binary);
    EXPECT_EQ(r.root.content.bytes.size, 0u);
    EXPECT_TRUE(r.root.content.printable);
    EXPECT_EQ(r.root.content.text, "");
    EXPECT_EQ(render_xml(r.root), "<message></message>");
    // LIST_EMPTY content means no content at all; an attribute value of 00 is "".
    r = dec(H("f80313070000"));
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.root.attrs.size(), 1u);
    EXPECT_EQ(r.root.attrs[0].key.text, "receipt");
    EXPECT_EQ(r.root.attrs[0].value.kind, ValueKind::Empty);
    EXPECT_EQ(r.root.attrs[0].value.text, "");
    r = dec(H("f8021300"));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.root.content.kind, ValueKind::Empty);
    EXPECT_EQ(render_xml(r.root), "<message/>");
}

TEST(WaBinaryDecode, ListSizes) {
    // f8 ff: 255 items = tag + 127 attributes, no content.
    Bytes b = H("f8ff13");
    for (int i = 0; i < 127; i++) {
        b.push_back(0x07);
        b.push_back(0x08);
    }
    DecodeResult r = dec(b);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.attrs.size(), 127u);
    EXPECT_FALSE(r.root.has_children);
    // f9 01 00: 256 items = tag + 127 attributes + content.
    b[0] = 0xF9;
    b.insert(b.begin() + 1, {0x01, 0x00});
    b.erase(b.begin() + 3);  // drop the old f8 size byte (ff)
    b.push_back(0x07);
    r = dec(b);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.attrs.size(), 127u);
    EXPECT_EQ(r.root.content.text, "receipt");
    // 256 children through a LIST_16 content header.
    b = H("f80213f90100");
    for (int i = 0; i < 256; i++) b.insert(b.end(), {0xF8, 0x01, 0x07});
    r = dec(b);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.root.has_children);
    ASSERT_EQ(r.root.children.size(), 256u);
    EXPECT_EQ(r.root.content.wire_tag, LIST_16);
    EXPECT_EQ(r.root.content.offset, 3u);
    EXPECT_EQ(r.root.content.length, 3u);
    EXPECT_EQ(r.root.children[255].tag.text, "receipt");
    EXPECT_EQ(r.root.children[255].offset, 6u + 255 * 3);
    EXPECT_EQ(r.root.children[255].depth, 1u);
    // An empty child list is still "has children".
    r = dec(H("f80213f800"));
    ASSERT_TRUE(r.ok);
    EXPECT_TRUE(r.root.has_children);
    EXPECT_TRUE(r.root.children.empty());
}

TEST(WaBinaryDecode, BinaryLengths) {
    Bytes b = H("f80213fcff");
    b.resize(b.size() + 255, 'x');
    DecodeResult r = dec(b);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.content.bytes.size, 255u);
    EXPECT_EQ(r.root.content.length, 257u);
    b = H("f80213fd000100");
    b.resize(b.size() + 256, 'y');
    r = dec(b);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.content.wire_tag, BINARY_20);
    EXPECT_EQ(r.root.content.bytes.size, 256u);
    EXPECT_EQ(r.root.content.length, 260u);
    b = H("f80213fe00000003616263");
    r = dec(b);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.content.text, "abc");
}

TEST(WaBinaryDecode, U20Lengths) {
    struct Case {
        const char *len;
        size_t want;
    } cases[] = {{"000000", 0}, {"000100", 256}, {"010000", 65536}, {"0fffff", 1048575}, {"f00001", 1}};
    for (const Case &c : cases) {
        Bytes b = H(std::string("f80213fd") + c.len);
        b.resize(b.size() + c.want, 0x01);
        DecodeResult r = dec(b);
        ASSERT_TRUE(r.ok) << c.len << ": " << r.error;
        EXPECT_EQ(r.root.content.bytes.size, c.want) << c.len;
        if (c.want) {
            EXPECT_FALSE(r.root.content.printable) << c.len;
        }
    }
}

TEST(WaBinaryDecode, PackedBodies) {
    DecodeResult r = dec(H("f80213fb03abcdef"));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.content.text, "ABCDEF");
    EXPECT_EQ(r.root.content.kind, ValueKind::Packed);
    r = dec(H("f80213ff82123f"));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.content.text, "123");
    r = dec(H("f80213ff00"));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.content.text, "");
    r = dec(H("f80213fb81a0"));  // odd hex
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.content.text, "A");
    for (const char *bad : {"c0", "d0", "e0"}) {
        r = dec(H(std::string("f80213ff01") + bad));
        EXPECT_FALSE(r.ok) << bad;
        EXPECT_NE(r.error.find("invalid nibble 1"), std::string::npos) << r.error;
        EXPECT_EQ(r.error_offset, 5u);
    }
    r = dec(H("f80213ff011e"));  // low nibble 14
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("invalid nibble 14"), std::string::npos) << r.error;
    r = dec(H("f80213ff0512"));  // declares 5 packed bytes, has 1
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("declared NIBBLE_8 length 5"), std::string::npos) << r.error;
    EXPECT_EQ(r.error_offset, 3u);
}

TEST(WaBinaryDecode, BadAdJidDomain) {
    DecodeResult r = dec(H("f80213f70201fc03313233"));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "invalid AD_JID domain type encoding 2");
    EXPECT_EQ(r.error_offset, 4u);
    EXPECT_TRUE(r.has_root);
    EXPECT_EQ(r.root.tag.text, "message");  // partial tree kept
}

TEST(WaBinaryDecode, KnownGoodSuccess) {
    DecodeResult r = dec(H(kSuccess));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.trailing_bytes);
    const Node &n = r.root;
    EXPECT_EQ(n.tag.text, "success");
    ASSERT_EQ(n.attrs.size(), 7u);
    EXPECT_FALSE(n.has_children);
    EXPECT_EQ(n.content.kind, ValueKind::Empty);
    EXPECT_EQ(n.attr_text("t"), "1752021890");
    EXPECT_EQ(n.attr_text("props"), "27");
    EXPECT_EQ(n.attr_text("location"), "frc");
    EXPECT_EQ(n.attr_text("lid"), "100000000000001:42@lid");
    EXPECT_EQ(n.attr_text("abprops"), "10");
    EXPECT_EQ(n.attr_text("creation"), "1752020041");
    EXPECT_EQ(n.attr_text("companion_enc_static"), "d5Yb5WxL+k5UKQHVI6buFRGQEj0GZA5evz8b6V2xkdw=");
    const Attribute *lid = n.attr("lid");
    ASSERT_NE(lid, nullptr);
    EXPECT_EQ(lid->value.kind, ValueKind::Jid);
    EXPECT_EQ(lid->value.wire_tag, AD_JID);
    EXPECT_EQ(lid->value.jid_user, "100000000000001");
    EXPECT_EQ(lid->value.jid_server, "lid");
    EXPECT_EQ(lid->value.jid_device, 42);
    EXPECT_EQ(lid->value.jid_agent, 1);
    EXPECT_EQ(n.attr("companion_enc_static")->key.wire_tag, 0xEC);  // double-byte token
    EXPECT_EQ(n.attr("location")->value.kind, ValueKind::Binary);
}

TEST(WaBinaryDecode, CallOfferExample) {
    Bytes f = H(kOffer);
    Unpacked u = unpack_frame(f);
    ASSERT_TRUE(u.ok);
    DecodeResult r = decode_node(u.node, v3());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.trailing_bytes);
    EXPECT_EQ(r.consumed, f.size() - 1);
    const Node &call = r.root;
    EXPECT_EQ(call.tag.text, "call");
    ASSERT_EQ(call.attrs.size(), 2u);
    EXPECT_EQ(call.attrs[0].key.text, "to");
    EXPECT_EQ(call.attrs[0].value.text, "222222222222222@lid");  // digest display rule: device 0 omitted
    EXPECT_EQ(jid_text(call.attrs[0].value, true), "222222222222222:0@lid");
    EXPECT_EQ(call.attrs[0].value.jid_device, 0);
    EXPECT_EQ(call.attrs[0].value.jid_user, "222222222222222");
    EXPECT_EQ(call.attr_text("id"), "3EB0ABCDEF0123456789");
    EXPECT_EQ(call.attr("id")->value.wire_tag, HEX_8);
    ASSERT_EQ(call.children.size(), 1u);
    const Node &offer = call.children[0];
    EXPECT_EQ(offer.tag.text, "offer");
    EXPECT_EQ(offer.depth, 1u);
    EXPECT_EQ(offer.attr_text("call-id"), "00112233445566778899AABBCCDDEEFF");
    EXPECT_EQ(jid_text(offer.attr("call-creator")->value, true), "111111111111111:0@lid");
    ASSERT_EQ(offer.children.size(), 5u);
    const Node &audio = offer.children[0];
    EXPECT_EQ(audio.tag.text, "audio");
    EXPECT_EQ(audio.attr_text("enc"), "opus");
    EXPECT_EQ(audio.attr_text("rate"), "16000");
    EXPECT_EQ(offer.children[1].tag.text, "net");
    EXPECT_EQ(offer.children[1].attr_text("medium"), "3");
    const Node *cap = offer.child("capability");
    ASSERT_NE(cap, nullptr);
    EXPECT_EQ(cap->attr_text("ver"), "1");
    EXPECT_EQ(cap->content.kind, ValueKind::Binary);
    EXPECT_FALSE(cap->content.printable);
    EXPECT_EQ(to_hex(cap->content.bytes), "0105f709e0bb13");
    const Node *enc = offer.child("enc");
    ASSERT_NE(enc, nullptr);
    EXPECT_EQ(enc->attr_text("v"), "2");
    EXPECT_EQ(enc->attr_text("type"), "pkmsg");
    EXPECT_EQ(enc->attr_text("count"), "0");
    EXPECT_EQ(to_hex(enc->content.bytes), "dead");
    const Node *encopt = offer.child("encopt");
    ASSERT_NE(encopt, nullptr);
    EXPECT_EQ(encopt->attr_text("keygen"), "2");

    EXPECT_EQ(render_xml(call),
              "<call to=\"222222222222222:0@lid\" id=\"3EB0ABCDEF0123456789\"><offer call-id=\"00112233445566778899AABBCCDDEEFF\" "
              "call-creator=\"111111111111111:0@lid\"><audio enc=\"opus\" rate=\"16000\"/><net medium=\"3\"/>"
              "<capability ver=\"1\">0105f709e0bb13</capability><enc v=\"2\" type=\"pkmsg\" count=\"0\">dead</enc>"
              "<encopt keygen=\"2\"/></offer></call>");
    RenderOptions digest_rule;
    digest_rule.show_zero_device = false;
    EXPECT_EQ(render_xml(call, digest_rule).substr(0, 30), "<call to=\"222222222222222@lid\"");
}

TEST(WaBinaryDecode, OffsetsAndLengths) {
    Bytes b = offer_node_bytes();
    DecodeResult r = dec(b);
    ASSERT_TRUE(r.ok);
    const Node &call = r.root;
    EXPECT_EQ(call.offset, 0u);
    EXPECT_EQ(call.length, b.size());
    EXPECT_EQ(call.tag.offset, 2u);
    EXPECT_EQ(call.tag.length, 1u);
    EXPECT_EQ(call.attrs[0].key.offset, 3u);
    EXPECT_EQ(call.attrs[0].value.offset, 4u);
    EXPECT_EQ(call.attrs[0].value.length, 13u);  // f7 01 00 ff 88 + 8 packed bytes
    EXPECT_EQ(call.attrs[1].key.offset, 17u);
    EXPECT_EQ(call.attrs[1].value.offset, 18u);
    EXPECT_EQ(call.attrs[1].value.length, 12u);
    EXPECT_EQ(call.content.offset, 30u);  // f8 01
    EXPECT_EQ(call.content.length, 2u);
    const Node &offer = call.children[0];
    EXPECT_EQ(offer.offset, 32u);
    EXPECT_EQ(offer.offset + offer.length, b.size());
    const Node *cap = offer.child("capability");
    // The capability bytes are where their view says they are.
    EXPECT_EQ(cap->content.bytes.data, b.data() + cap->content.offset + 2);
    EXPECT_EQ(cap->content.length, 9u);
    EXPECT_EQ(b[cap->offset], 0xF8);
    EXPECT_EQ(cap->offset + cap->length, cap->content.offset + cap->content.length);
    for (const Node &c : offer.children) {
        EXPECT_GE(c.offset, offer.offset);
        EXPECT_LE(c.offset + c.length, offer.offset + offer.length);
    }
}

TEST(WaBinaryDecode, CopiedAndMovedResultsKeepTheTree) {
    // Packed and JID texts, attributes and children live in the result's storage, not in the
    // node bytes: a copy shares it and a move carries it, both outliving the original.
    Bytes b = offer_node_bytes();
    const std::string want = render_xml(dec(b).root);
    DecodeResult copied, moved;
    {
        DecodeResult r = dec(b);
        ASSERT_TRUE(r.ok) << r.error;
        copied = r;
        DecodeResult tmp = r;
        moved = std::move(tmp);
    }
    for (const DecodeResult *r : {&copied, &moved}) {
        EXPECT_EQ(r->root.attrs[0].value.text, "222222222222222@lid");
        EXPECT_EQ(r->root.attrs[0].value.jid_user, "222222222222222");
        EXPECT_EQ(r->root.attr_text("id"), "3EB0ABCDEF0123456789");
        ASSERT_EQ(r->root.children.size(), 1u);
        EXPECT_EQ(r->root.children[0].attr_text("call-id"), "00112233445566778899AABBCCDDEEFF");
        EXPECT_EQ(render_xml(r->root), want);
    }
    EXPECT_EQ(copied.storage, moved.storage);  // shared, not duplicated
}

TEST(WaBinaryDecode, TruncatedAtEveryPrefix) {
    Bytes b = offer_node_bytes();
    for (size_t n = 0; n < b.size(); n++) {
        Bytes p(b.begin(), b.begin() + static_cast<long>(n));
        DecodeResult r = dec(p);
        EXPECT_FALSE(r.ok) << n;
        EXPECT_FALSE(r.error.empty()) << n;
        EXPECT_LE(r.error_offset, n) << n;
        EXPECT_EQ(r.has_root, n >= 2) << n;
        (void)render_xml(r.root);  // a partial tree renders too
    }
    // A prefix that cuts inside <encopt> keeps everything before it.
    Bytes cut(b.begin(), b.end() - 6);  // must outlive r: values are views into it
    DecodeResult r = dec(cut);
    ASSERT_FALSE(r.ok);
    ASSERT_EQ(r.root.children.size(), 1u);
    const Node &offer = r.root.children[0];
    EXPECT_NE(offer.child("capability"), nullptr);
    EXPECT_EQ(to_hex(offer.child("capability")->content.bytes), "0105f709e0bb13");
}

TEST(WaBinaryDecode, DeclaredLengthBeyondBuffer) {
    DecodeResult r = dec(H("f80213fc0561"));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "declared BINARY_8 length 5 at offset 3 exceeds the buffer (1 bytes left)");
    EXPECT_EQ(r.error_offset, 3u);
    r = dec(H("f80213feffffffff00"));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("BINARY_32 length 4294967295"), std::string::npos);
    // A huge child count with few bytes neither allocates wildly nor crashes.
    r = dec(H("f80213f9ffff"));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("truncated"), std::string::npos) << r.error;
}

TEST(WaBinaryDecode, DepthCap) {
    auto nested = [](unsigned levels) {
        Bytes b;
        for (unsigned i = 1; i < levels; i++) b.insert(b.end(), {0xF8, 0x02, 0x13, 0xF8, 0x01});
        b.insert(b.end(), {0xF8, 0x01, 0x13});
        return b;
    };
    DecodeResult r = decode_node(nested(4), v3(), 4);
    EXPECT_TRUE(r.ok) << r.error;
    r = decode_node(nested(5), v3(), 4);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "nesting deeper than 4");
    EXPECT_EQ(r.error_offset, 20u);
    r = dec(nested(128));
    EXPECT_TRUE(r.ok) << r.error;
    r = dec(nested(129));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "nesting deeper than 128");
    r = dec(nested(100000));
    EXPECT_FALSE(r.ok);
}

TEST(WaBinaryDecode, TrailingBytes) {
    DecodeResult r = dec(H("f8021307aabb"));
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(r.trailing_bytes);
    EXPECT_EQ(r.trailing_count, 2u);
    EXPECT_EQ(r.consumed, 4u);
}

TEST(WaBinaryDecode, GrammarErrors) {
    DecodeResult r = dec(H("f800"));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("size 0"), std::string::npos) << r.error;
    r = dec(H("00"));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("expected a node list header"), std::string::npos) << r.error;
    EXPECT_FALSE(dec(Bytes()).ok);
    for (uint8_t t = 0xF0; t <= 0xF4; t++) {
        r = dec(Bytes{0xF8, 0x02, 0x13, t});
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.error.find("invalid tag"), std::string::npos) << r.error;
    }
    r = dec(H("f80313f80107"));  // a list as an attribute key
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("unexpected list tag 0xF8"), std::string::npos) << r.error;
    r = dec(H("f80213fafa0003"));  // a JID inside a JID
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("unexpected tag 0xFA in JID_PAIR user"), std::string::npos) << r.error;
    EXPECT_FALSE(decode_node(H("f8021307"), nullptr).ok);
}

TEST(WaBinaryDecode, Jids) {
    struct Case {
        const char *hex;
        const char *text;
        int device;
    } cases[] = {
        {"fa0003", "s.whatsapp.net", -1},                              // server only
        {"faff8612345678919f03", "12345678919@s.whatsapp.net", -1},      // packed user
        {"fafc0631323334353664", "123456@call", -1},                   // <id>@call, server token
        {"fafc03616263fc03787978", "abc@xyx", -1},                     // lenient about servers
        {"f70005ff8312340f", "12340:5@s.whatsapp.net", 5},
        {"f78003fc0161", "a:3@hosted", 3},
        {"f78100fc0161", "a@hosted.lid", 0},
        {"f78200fc0161", "a@hosted", 0},
        {"f6fc0161000bfc046d736772", "a:11@msgr", 11},
        {"f5fc016100020007fc07696e7465726f70", "a:2@interop", 2},
        {"f5fc0161000200fe", "a:2@interop", 2},                        // outbound form, no server
    };
    for (const Case &c : cases) {
        Bytes b = H(std::string("f80213") + c.hex);
        DecodeResult r = dec(b);
        ASSERT_TRUE(r.ok) << c.hex << ": " << r.error;
        EXPECT_EQ(r.root.content.kind, ValueKind::Jid) << c.hex;
        EXPECT_EQ(r.root.content.text, c.text) << c.hex;
        EXPECT_EQ(r.root.content.jid_device, c.device) << c.hex;
        EXPECT_EQ(r.root.content.length, b.size() - 3) << c.hex;
    }
    DecodeResult r = dec(H("f80213f5fc016100020007fc07696e7465726f70"));
    EXPECT_EQ(r.root.content.jid_agent, 7);  // integrator
    r = dec(H("f80213f70301fc0161"));        // odd domain with bit 7 clear
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "invalid AD_JID domain type encoding 3");
    r = dec(H("f80213f78300fc0161"));  // bit 7 set, bit 0 set, not 129
    EXPECT_FALSE(r.ok);
}

TEST(WaBinaryDecode, DictionaryVersionsDiffer) {
    // Index 0x13 is "message" in v3 and "g.us" in v2; 0x09 is "notification" vs "broadcast".
    ASSERT_NE(v2(), nullptr);
    ASSERT_NE(v3(), nullptr);
    EXPECT_EQ(default_dictionary(), v3());
    Bytes b = H("f8021309");
    DecodeResult r3 = decode_node(b, v3()), r2 = decode_node(b, v2());
    ASSERT_TRUE(r3.ok && r2.ok);
    EXPECT_EQ(r3.root.tag.text, "message");
    EXPECT_EQ(r3.root.content.text, "notification");
    EXPECT_EQ(r2.root.tag.text, "g.us");
    EXPECT_EQ(r2.root.content.text, "broadcast");
    EXPECT_EQ(dictionary_for_version(7), nullptr);
}

TEST(WaBinaryDecode, TokenNotInDictionary) {
    static const char *const single[] = {"", "a", "b"};
    static const char *const dbl[] = {"x"};
    Dictionary tiny{9, single, 3, {dbl, dbl, dbl, dbl}, {1, 1, 1, 0}};
    DecodeResult r = decode_node(H("f8020102"), &tiny);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.root.tag.text, "a");
    r = decode_node(H("f8020103"), &tiny);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "token 3 not in dictionary v9");
    EXPECT_EQ(r.error_offset, 3u);
    r = decode_node(H("f80201ec00"), &tiny);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.root.content.text, "x");
    r = decode_node(H("f80201ed01"), &tiny);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "token 1:1 (double-byte) not in dictionary v9");
    r = decode_node(H("f80201ef00"), &tiny);
    EXPECT_FALSE(r.ok);
}

TEST(WaBinaryDecode, PrintableDetection) {
    EXPECT_TRUE(is_printable_utf8(H("")));
    EXPECT_TRUE(is_printable_utf8(H("68c3a9e282ac0a")));     // "hé€\n"
    EXPECT_TRUE(is_printable_utf8(H("f09f9880")));           // emoji
    EXPECT_FALSE(is_printable_utf8(H("6800")));              // NUL
    EXPECT_FALSE(is_printable_utf8(H("c0af")));              // overlong
    EXPECT_FALSE(is_printable_utf8(H("eda080")));            // surrogate
    EXPECT_FALSE(is_printable_utf8(H("e282")));              // truncated
    EXPECT_FALSE(is_printable_utf8(H("f4908080")));          // > U+10FFFF
    EXPECT_FALSE(is_printable_utf8(H("c285")));              // C1 control
    EXPECT_FALSE(is_printable_utf8(H("7f")));
}

// ---- rendering --------------------------------------------------------------------------------

TEST(WaBinaryRender, EscapingAndTruncation) {
    // <message receipt="a<&\"b>">…</message> with binary content of 300 bytes.
    Bytes b = H("f8041307fc06613c26226264fd00012c");
    for (int i = 0; i < 300; i++) b.push_back(static_cast<uint8_t>(i));
    DecodeResult r = dec(b);
    ASSERT_TRUE(r.ok) << r.error;
    RenderOptions o;
    o.max_binary_bytes = 4;
    EXPECT_EQ(render_xml(r.root, o),
              "<message receipt=\"a&lt;&amp;&quot;bd\">00010203\xE2\x80\xA6(300 bytes)</message>");
    o.max_binary_bytes = 1000;
    std::string full = render_xml(r.root, o);
    EXPECT_NE(full.find("fdfeff0001"), std::string::npos);
    EXPECT_EQ(full.find("\xE2\x80\xA6"), std::string::npos);
    // Printable content is escaped text.
    r = dec(H("f80213fc053c613e2626"));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(render_xml(r.root), "<message>&lt;a&gt;&amp;&amp;</message>");
    EXPECT_EQ(render_value(r.root.content), "<a>&&");
}

TEST(WaBinaryRender, Pretty) {
    Bytes b = offer_node_bytes();  // outlives r: values are views into it
    DecodeResult r = dec(b);
    ASSERT_TRUE(r.ok);
    RenderOptions o;
    o.pretty = true;
    std::string s = render_xml(r.root, o);
    EXPECT_EQ(s.substr(0, 6), "<call ");
    EXPECT_NE(s.find("\n  <offer "), std::string::npos);
    EXPECT_NE(s.find("\n    <audio enc=\"opus\" rate=\"16000\"/>\n"), std::string::npos);
    EXPECT_NE(s.find("\n    <capability ver=\"1\">0105f709e0bb13</capability>\n"), std::string::npos);
    const std::string tail = "  </offer>\n</call>";
    ASSERT_GE(s.size(), tail.size());
    EXPECT_EQ(s.substr(s.size() - tail.size()), tail);
}

TEST(WaBinaryDecode, RandomMutationsNeverCrash) {
    // A small deterministic fuzz loop (run it under WACALL_SANITIZE=ON to catch overreads).
    Bytes base = offer_node_bytes();
    uint32_t x = 12345;
    auto rnd = [&x] { return x = x * 1103515245u + 12345u, x >> 8; };
    size_t ok = 0;
    for (int it = 0; it < 5000; it++) {
        Bytes b = base;
        int flips = 1 + int(rnd() % 4);
        for (int k = 0; k < flips; k++) b[rnd() % b.size()] = static_cast<uint8_t>(rnd());
        if (rnd() % 3 == 0) b.resize(rnd() % b.size());
        DecodeResult r = decode_node(b, (it & 1) ? v2() : v3(), 16);
        ok += r.ok;
        if (!r.ok) {
            EXPECT_FALSE(r.error.empty());
        }
        RenderOptions o;
        o.pretty = it & 2;
        (void)render_xml(r.root, o);
    }
    EXPECT_GT(ok, 0u);
}

namespace {

// MB/s of CPU time decoding `frame` repeatedly.
double decode_rate(const Bytes &frame, int iters) {
    std::clock_t t0 = std::clock();  // CPU time: other builds share this machine
    size_t total = 0;
    for (int i = 0; i < iters; i++) total += dec(frame).consumed;
    double sec = double(std::clock() - t0) / CLOCKS_PER_SEC;
    return sec > 0 ? double(total) / sec / 1e6 : 1e9;
}

}  // namespace

TEST(WaBinaryDecode, Throughput) {
    // Not a benchmark (that lives in bench/), only a guard against accidental quadratic work.
    Bytes one = offer_node_bytes();
    // Dense: six bare offers under one node (~130 values per KiB, the worst case for allocation).
    Bytes dense = H("f80213f806");
    for (int i = 0; i < 6; i++) dense.insert(dense.end(), one.begin(), one.end());
    ASSERT_TRUE(dec(dense).ok);
    // Typical: one offer whose <enc> carries an ~860-byte pkmsg, about 1 KiB in all.
    Bytes typical = one;
    size_t at = typical.size() - 7;  // <encopt> is the last 7 bytes, after "fc 02 de ad"
    ASSERT_EQ(typical[at - 4], 0xFC);
    typical.erase(typical.begin() + static_cast<long>(at - 4), typical.begin() + static_cast<long>(at));
    Bytes blob = {0xFD, 0x00, 0x03, 0x5C};
    for (int i = 0; i < 0x35C; i++) blob.push_back(static_cast<uint8_t>(i * 7));
    typical.insert(typical.begin() + static_cast<long>(at - 4), blob.begin(), blob.end());
    DecodeResult r = dec(typical);
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.root.children[0].child("enc")->content.bytes.size, 0x35Cu);
    double d = decode_rate(dense, 20000), t = decode_rate(typical, 20000);
    std::printf("decode MB/s (CPU time): dense %zu-byte frame %.0f, typical %zu-byte frame %.0f\n", dense.size(), d,
                typical.size(), t);
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
    EXPECT_GT(d, 20.0);  // loose: the machine is shared
    EXPECT_GT(t, 40.0);
#endif
}
