// Replays the client side of a WhatsApp Noise handshake (XX, IK, XXfallback; digest §1.5) from
// the client's ephemeral and static private keys, as a passive observer with a key log can.
#include "noise/noise.h"

#include <cstring>

namespace wacall::noise {

const char *pattern_name(HandshakePattern p) {
    switch (p) {
    case HandshakePattern::XX: return "XX";
    case HandshakePattern::IK: return "IK";
    case HandshakePattern::XXFallback: return "XXfallback";
    case HandshakePattern::Unknown: break;
    }
    return "unknown";
}

std::string ReplayResult::first_error() const {
    for (const ReplayStep *s : {&client_hello, &server_hello, &client_finish})
        if (s->attempted && !s->ok) return s->error;
    return std::string();
}

namespace {

ByteView kv(const Key32 &k) { return ByteView(k.data(), k.size()); }
ByteView name_view(const char *s) { return ByteView(reinterpret_cast<const uint8_t *>(s), std::strlen(s)); }

// A payload step's result: the plaintext, or on failure an earlier step's payload emptied (it
// stays present, so the tree keeps showing that a payload was there).
void store_payload(std::optional<Bytes> &field, std::optional<Bytes> plain) {
    if (plain) field = std::move(plain);
    else if (field) field->clear();
}

// A decrypted static key: nullopt unless it is 32 bytes.
std::optional<Key32> to_key(const Bytes &b) {
    if (b.size() != 32) return std::nullopt;
    Key32 k;
    std::memcpy(k.data(), b.data(), 32);
    return k;
}

}  // namespace

HandshakeReplay::HandshakeReplay(const ReplayKeys &keys, ByteView prologue) : keys_(keys), prologue_(prologue.to_bytes()) {
    crypto::init();
    std::optional<Key32> e = crypto::x25519_public(keys_.client_ephemeral_private.data());
    std::optional<Key32> s = crypto::x25519_public(keys_.client_static_private.data());
    keys_ok_ = e && s;
    if (e) e_pub_ = *e;
    if (s) s_pub_ = *s;
}

bool HandshakeReplay::fail(ReplayStep &s, std::string msg) {
    s.ok = false;
    s.error = std::move(msg);
    return false;
}

bool HandshakeReplay::on_client_hello(const HandshakeMessage &m) {
    ReplayStep &st = r_.client_hello;
    st = ReplayStep{};
    st.attempted = true;
    ch_done_ = false;
    if (m.kind != HandshakeKind::ClientHello) return fail(st, "not a ClientHello");
    if (!keys_ok_) return fail(st, "invalid client private key");
    if (!m.ephemeral.present || m.ephemeral.data.size != 32) return fail(st, "ClientHello has no 32-byte ephemeral key");
    if (std::memcmp(m.ephemeral.data.data, e_pub_.data(), 32) != 0)
        return fail(st, "client ephemeral private key does not match the ClientHello ephemeral");

    if (!m.static_key.present) {
        // XX: Init, MixHash(e_c).
        r_.pattern = HandshakePattern::XX;
        if (!ss_.init(name_view(kProtocolXX), prologue_)) return fail(st, "crypto failure");
        ss_.mix_hash(m.ephemeral.data);
        st.ok = true;
        ch_done_ = true;
        return true;
    }

    // IK: Init, MixHash(rs), MixHash(e_c), MixKey(es), static, MixKey(ss), payload.
    r_.pattern = HandshakePattern::IK;
    ch_done_ = true;  // a fallback ServerHello can still be processed without the server static
    if (!keys_.server_static_public) return fail(st, "IK ClientHello: the server static public key is not known, cannot decrypt");
    if (!ss_.init(name_view(kProtocolIK), prologue_)) return fail(st, "crypto failure");
    ss_.mix_hash(kv(*keys_.server_static_public));
    ss_.mix_hash(m.ephemeral.data);
    std::optional<Key32> dh;
    if (!(dh = crypto::x25519(keys_.client_ephemeral_private.data(), keys_.server_static_public->data())))
        return fail(st, "X25519(client ephemeral, server static) failed");
    if (!ss_.mix_key(ByteView(dh->data(), 32))) return fail(st, "crypto failure");
    std::optional<Bytes> s = ss_.decrypt_and_hash(m.static_key.data);
    if (!s) return fail(st, "IK client static decryption failed (wrong server static key?)");
    std::optional<Key32> key = to_key(*s);
    if (!key) return fail(st, "IK client static is not 32 bytes");
    r_.client_static = *key;
    if (*key != s_pub_) return fail(st, "client static private key does not match the ClientHello static");
    if (!(dh = crypto::x25519(keys_.client_static_private.data(), keys_.server_static_public->data())))
        return fail(st, "X25519(client static, server static) failed");
    if (!ss_.mix_key(ByteView(dh->data(), 32))) return fail(st, "crypto failure");
    if (m.payload.present) {
        std::optional<Bytes> plain = ss_.decrypt_and_hash(m.payload.data);
        const bool ok = plain.has_value();
        store_payload(r_.client_payload, std::move(plain));
        if (!ok) return fail(st, "IK client payload decryption failed");
    }
    st.ok = true;
    return true;
}

// ServerHello steps 1-5 of XX (also used by XXfallback); derives the keys by look-ahead.
bool HandshakeReplay::process_xx_server_hello(const HandshakeMessage &m) {
    ReplayStep &st = r_.server_hello;
    std::optional<Key32> dh;
    ss_.mix_hash(m.ephemeral.data);
    if (!(dh = crypto::x25519(keys_.client_ephemeral_private.data(), e_server_.data())))
        return fail(st, "X25519(client ephemeral, server ephemeral) failed");
    if (!ss_.mix_key(ByteView(dh->data(), 32))) return fail(st, "crypto failure");
    std::optional<Bytes> s = ss_.decrypt_and_hash(m.static_key.data);
    if (!s) return fail(st, "server static decryption failed (wrong key?)");
    std::optional<Key32> key = to_key(*s);
    if (!key) return fail(st, "server static is not 32 bytes");
    r_.server_static = *key;
    if (!(dh = crypto::x25519(keys_.client_ephemeral_private.data(), r_.server_static->data())))
        return fail(st, "X25519(client ephemeral, server static) failed");
    if (!ss_.mix_key(ByteView(dh->data(), 32))) return fail(st, "crypto failure");
    if (m.payload.present) {
        std::optional<Bytes> plain = ss_.decrypt_and_hash(m.payload.data);
        const bool ok = plain.has_value();
        store_payload(r_.certificate, std::move(plain));
        if (!ok) return fail(st, "server certificate decryption failed");
    }
    // Split depends only on ck, which after MixKey(se) needs no ClientFinish bytes: derive the
    // traffic keys now on a copy, so a capture missing the ClientFinish still decrypts.
    SymmetricState look;
    std::optional<SymmetricState::TrafficKeys> keys;
    if (!(dh = crypto::x25519(keys_.client_static_private.data(), e_server_.data())) || !ss_.copy_to(look) ||
        !look.mix_key(ByteView(dh->data(), 32)) || !(keys = look.split()))
        return fail(st, "deriving the traffic keys failed");
    r_.keys = keys;
    st.ok = true;
    sh_done_ = true;
    return true;
}

bool HandshakeReplay::on_server_hello(const HandshakeMessage &m) {
    ReplayStep &st = r_.server_hello;
    st = ReplayStep{};
    st.attempted = true;
    sh_done_ = false;
    if (m.kind != HandshakeKind::ServerHello) return fail(st, "not a ServerHello");
    if (!ch_done_) return fail(st, "no usable ClientHello before the ServerHello");
    if (!m.ephemeral.present || m.ephemeral.data.size != 32) return fail(st, "ServerHello has no 32-byte ephemeral key");
    std::memcpy(e_server_.data(), m.ephemeral.data.data, 32);

    if (r_.pattern == HandshakePattern::IK && m.static_key.present) {
        // The server rejected IK: restart as XXfallback with the same client ephemeral.
        r_.pattern = HandshakePattern::XXFallback;
        if (!ss_.init(name_view(kProtocolXXFallback), prologue_)) return fail(st, "crypto failure");
        ss_.mix_hash(kv(e_pub_));
    }
    if (r_.pattern == HandshakePattern::XX || r_.pattern == HandshakePattern::XXFallback) {
        if (!m.static_key.present) return fail(st, "XX ServerHello has no static key");
        return process_xx_server_hello(m);
    }
    if (r_.pattern != HandshakePattern::IK) return fail(st, "unknown handshake pattern");
    if (!r_.client_hello.ok) return fail(st, "IK ServerHello: the ClientHello could not be replayed");

    // IK accepted: MixHash(e_s), MixKey(ee), MixKey(se), payload, Split.
    std::optional<Key32> dh;
    ss_.mix_hash(m.ephemeral.data);
    if (!(dh = crypto::x25519(keys_.client_ephemeral_private.data(), e_server_.data())))
        return fail(st, "X25519(client ephemeral, server ephemeral) failed");
    if (!ss_.mix_key(ByteView(dh->data(), 32))) return fail(st, "crypto failure");
    if (!(dh = crypto::x25519(keys_.client_static_private.data(), e_server_.data())))
        return fail(st, "X25519(client static, server ephemeral) failed");
    if (!ss_.mix_key(ByteView(dh->data(), 32))) return fail(st, "crypto failure");
    if (m.payload.present) {
        std::optional<Bytes> plain = ss_.decrypt_and_hash(m.payload.data);
        const bool ok = plain.has_value();
        store_payload(r_.server_payload, std::move(plain));
        if (!ok) return fail(st, "IK server payload decryption failed (wrong key?)");
    }
    std::optional<SymmetricState::TrafficKeys> keys = ss_.split();
    if (!keys) return fail(st, "crypto failure");
    r_.keys = keys;
    st.ok = true;
    sh_done_ = true;
    return true;
}

bool HandshakeReplay::on_client_finish(const HandshakeMessage &m) {
    ReplayStep &st = r_.client_finish;
    st = ReplayStep{};
    st.attempted = true;
    if (m.kind != HandshakeKind::ClientFinish) return fail(st, "not a ClientFinish");
    if (!r_.expects_client_finish()) return fail(st, "a ClientFinish is not expected after an IK handshake");
    if (!sh_done_) return fail(st, "no usable ServerHello before the ClientFinish");
    if (!m.static_key.present) return fail(st, "ClientFinish has no static key");
    std::optional<Bytes> s = ss_.decrypt_and_hash(m.static_key.data);
    if (!s) return fail(st, "client static decryption failed");
    std::optional<Key32> key = to_key(*s);
    if (!key) return fail(st, "client static is not 32 bytes");
    const Key32 cs = *key;
    r_.client_static = cs;
    if (cs != s_pub_) {
        r_.keys.reset();  // the look-ahead keys used a static key that is not this client's
        return fail(st, "client static private key does not match the ClientFinish static");
    }
    std::optional<Key32> dh;
    if (!(dh = crypto::x25519(keys_.client_static_private.data(), e_server_.data())))
        return fail(st, "X25519(client static, server ephemeral) failed");
    if (!ss_.mix_key(ByteView(dh->data(), 32))) return fail(st, "crypto failure");
    if (m.payload.present) {
        std::optional<Bytes> plain = ss_.decrypt_and_hash(m.payload.data);
        const bool ok = plain.has_value();
        store_payload(r_.client_payload, std::move(plain));
        if (!ok) return fail(st, "client payload decryption failed");
    }
    std::optional<SymmetricState::TrafficKeys> keys = ss_.split();
    if (!keys) return fail(st, "crypto failure");
    r_.keys = keys;
    st.ok = true;
    return true;
}

ReplayResult replay_handshake(const ReplayKeys &keys, ByteView prologue, const HandshakeMessage *client_hello,
                              const HandshakeMessage *server_hello, const HandshakeMessage *client_finish) {
    HandshakeReplay r(keys, prologue);
    if (client_hello) r.on_client_hello(*client_hello);
    if (server_hello) r.on_server_hello(*server_hello);
    if (client_finish) r.on_client_finish(*client_finish);
    return r.result();
}

}  // namespace wacall::noise
