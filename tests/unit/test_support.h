// Helpers shared by the unit tests: hex literals, zlib input and hand-built WABinary trees.
#pragma once

#include "common/bytes.h"
#include "wabinary/node.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wacall::test {

// Bytes from a hex literal; a bad literal fails the calling test.
inline Bytes H(const std::string &h) {
    std::optional<Bytes> b = from_hex(h);
    EXPECT_TRUE(b.has_value()) << h;
    return b.value_or(Bytes{});
}

// Byte buffers the decoded and hand-built trees point into; a deque keeps them in place.
inline std::deque<Bytes> &store() {
    static std::deque<Bytes> s;
    return s;
}

// Texts, attribute lists and child lists of the hand-built trees (a Node holds views and spans).
inline std::string_view keep(const std::string &text) {
    static std::deque<std::string> texts;
    texts.push_back(text);
    return texts.back();
}
template <class T>
wabinary::Span<T> keep(std::vector<T> items) {
    static std::deque<std::vector<T>> lists;
    lists.push_back(std::move(items));
    return {lists.back().data(), lists.back().size()};
}

// zlib-compressed bytes (compressed WABinary frames).
inline Bytes zlib_compress(const Bytes &in) {
    uLongf n = compressBound(static_cast<uLong>(in.size()));
    Bytes out(n);
    EXPECT_EQ(compress2(out.data(), &n, in.data(), static_cast<uLong>(in.size()), 9), Z_OK);
    out.resize(n);
    return out;
}

using Attrs = std::vector<std::pair<std::string, std::string>>;

// A token value, or (Binary) printable text sent as raw bytes.
inline wabinary::Value text_value(const std::string &t, wabinary::ValueKind kind = wabinary::ValueKind::Token) {
    wabinary::Value v;
    v.kind = kind;
    v.text = keep(t);
    if (kind == wabinary::ValueKind::Binary) {
        store().emplace_back(t.begin(), t.end());
        v.bytes = store().back();
        v.printable = true;
    }
    return v;
}

// <tag attrs...>children</tag>, every name and attribute value a token.
inline wabinary::Node N(const std::string &tag, const Attrs &attrs = {}, std::vector<wabinary::Node> children = {}) {
    wabinary::Node n;
    n.tag = text_value(tag);
    std::vector<wabinary::Attribute> as;
    for (const auto &kv : attrs) {
        wabinary::Attribute a;
        a.key = text_value(kv.first);
        a.value = text_value(kv.second);
        as.push_back(a);
    }
    n.attrs = keep(std::move(as));
    n.has_children = !children.empty();
    n.children = keep(std::move(children));
    return n;
}

// A node whose content is raw bytes.
inline wabinary::Node NB(const std::string &tag, const Attrs &attrs, const Bytes &content) {
    wabinary::Node n = N(tag, attrs);
    store().push_back(content);
    n.content.kind = wabinary::ValueKind::Binary;
    n.content.bytes = store().back();
    return n;
}

// A node whose content is text sent as raw bytes (how <key>/<hbh_key> travel).
inline wabinary::Node NT(const std::string &tag, const Attrs &attrs, const std::string &text) {
    wabinary::Node n = N(tag, attrs);
    n.content = text_value(text, wabinary::ValueKind::Binary);
    return n;
}

// <call attrs...><action/></call>
inline wabinary::Node call_env(const Attrs &attrs, wabinary::Node action) {
    std::vector<wabinary::Node> c;
    c.push_back(std::move(action));
    return N("call", attrs, std::move(c));
}

}  // namespace wacall::test
