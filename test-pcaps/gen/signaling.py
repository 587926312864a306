"""Call-signaling stanza builders (reference digest §3, wacrg digest §1) as wabin nodes, and
``describe()``: the semantic facts a test expects the plugin to extract from a decoded stanza.

Builders take a ``Call`` (call-id, call-creator) and return plain ``(tag, attrs, content)`` nodes;
``call()`` wraps an action in the ``<call>`` envelope. Child orders follow the normative orders
(offer: privacy, audio.., video, net, capability, destination|enc, encopt, device-identity).
"""
import base64
import hashlib
import ipaddress

CAP_OFFER = bytes.fromhex("0105f709e0bb13")
CAP_PREACCEPT = bytes.fromhex("0105f709e0bb07")
CAP_VIDEO_OFFER = bytes.fromhex("0105f709e0fa13")
RELAY_PORT, WEB_RELAY_PORT = 3478, 3480
LATENCY_BASE = 0x02000000
VOIP_SETTINGS_111 = b'{"encode":{"use_mlow_codec_v1":"true"},"options":{"enable_48khz_rtp_clock":"true"}}'
VOIP_SETTINGS_120 = b'{"encode":{"use_mlow_codec_v1":"false"},"options":{"enable_48khz_rtp_clock":"false"}}'

ACTIONS = ("offer", "offer_notice", "preaccept", "accept", "reject", "terminate", "transport", "relaylatency",
           "heartbeat", "mute_v2", "video", "enc_rekey", "group_update", "mute", "user_action", "screen_share")


def det_bytes(label, n):
    """Deterministic filler bytes (SHA-256 counter mode over a label)."""
    out, i = b"", 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}|{i}".encode()).digest()
        i += 1
    return out[:n]


def N(tag, attrs=(), content=None):
    """Node helper; attrs given as a list of pairs (order kept) and None values dropped."""
    return (tag, [(k, v) for k, v in attrs if v is not None], content)


class Call:
    def __init__(self, call_id, creator):
        self.call_id, self.creator = call_id, creator

    def attrs(self, *extra):
        return [("call-id", self.call_id), ("call-creator", self.creator)] + list(extra)


# ---- envelope and small children --------------------------------------------------------------------
def call(action, to=None, id=None, frm=None, t=None, **more):
    """<call> envelope. Inbound stanzas carry from/id/t (+ notify/platform/version...)."""
    attrs = [("from", frm), ("to", to), ("id", id)] + list(more.items()) + [("t", t)]
    return N("call", attrs, [action])


def audio(rate, enc="opus"):
    return N("audio", [("enc", enc), ("rate", str(rate))])


def net(medium, protocol=None):
    return N("net", [("medium", str(medium)), ("protocol", protocol)])


def capability(blob=CAP_OFFER, ver="1"):
    return N("capability", [("ver", ver)], blob)


def encopt(keygen="2"):
    return N("encopt", [("keygen", keygen)])


def enc(ciphertext, type="pkmsg", v="2", count="0"):
    return N("enc", [("v", v), ("type", type), ("count", count)], ciphertext)


def destination(targets):
    """targets: [(device jid, enc node or None)] -> <destination><to jid>[enc]</to>..."""
    return N("destination", [], [N("to", [("jid", j)], [e] if e else None) for j, e in targets])


def endpoint_bytes(ip, port):
    """<te>/<te2> content: 4 or 16 address bytes + u16 BE port (§3.3)."""
    return ipaddress.ip_address(ip).packed + port.to_bytes(2, "big")


# ---- relay block --------------------------------------------------------------------------------------
class Endpoint:
    def __init__(self, ip, port=RELAY_PORT, relay_id="1", relay_name="gru1c02", token_id="0",
                 auth_token_id="1", c2r_rtt=None, protocol="0", is_fna=None):
        self.ip, self.port = ip, port
        self.attrs = [("relay_id", relay_id), ("relay_name", relay_name), ("token_id", token_id),
                      ("auth_token_id", auth_token_id), ("c2r_rtt", c2r_rtt), ("protocol", protocol),
                      ("is_fna", is_fna)]


class Relay:
    """Everything a <relay> block carries; the media plane reuses key/hbh/endpoints."""

    def __init__(self, label, endpoints, self_pid="1", peer_pid="2", uuid=None, hbh_double_b64=False,
                 warp_mi_tag_len="4", n_tokens=2):
        self.key_text = base64.b64encode(det_bytes(label + "|key", 16)).decode()
        self.hbh_key = det_bytes(label + "|hbh", 30)
        hbh = base64.b64encode(self.hbh_key)
        self.hbh_text = (base64.b64encode(hbh) if hbh_double_b64 else hbh).decode()
        self.uuid = uuid or det_bytes(label + "|uuid", 8).hex()
        self.self_pid, self.peer_pid = self_pid, peer_pid
        self.warp_mi_tag_len = warp_mi_tag_len
        self.tokens = [det_bytes(f"{label}|token{i}", 48) for i in range(n_tokens)]
        self.auth_tokens = [det_bytes(f"{label}|auth{i}", 40) for i in range(n_tokens)]
        self.endpoints = endpoints

    def node(self, extra_attrs=()):
        kids = [N("key", [], self.key_text), N("hbh_key", [], self.hbh_text)]
        if self.warp_mi_tag_len is not None:
            kids.append(N("warp_mi_tag_len", [], self.warp_mi_tag_len))
        kids += [N("token", [("id", str(i))], t) for i, t in enumerate(self.tokens)]
        kids += [N("auth_token", [("id", str(i))], t) for i, t in enumerate(self.auth_tokens)]
        kids += [N("te2", e.attrs, endpoint_bytes(e.ip, e.port)) for e in self.endpoints]
        attrs = [("uuid", self.uuid), ("self_pid", self.self_pid), ("peer_pid", self.peer_pid)] + list(extra_attrs)
        return N("relay", attrs, kids)


# ---- actions --------------------------------------------------------------------------------------------
def offer(c, targets=None, bare_enc=None, rates=(8000, 16000), video=False, privacy=None,
          device_identity=None, relay=None, extra=(), group_info_node=None):
    kids = [N("privacy", [], privacy)] if privacy else []
    kids += [audio(r) for r in rates]
    if video:
        kids.append(N("video", [("enc", "h264"), ("dec", "h264"), ("orientation", "0"), ("screen_width", "1920"),
                                ("screen_height", "1080"), ("device_orientation", "0")]))
    kids += [net(3), capability(CAP_VIDEO_OFFER if video else CAP_OFFER)]
    if group_info_node:
        kids.append(group_info_node)
    kids.append(destination(targets) if targets else bare_enc)
    kids.append(encopt())
    if device_identity:
        kids.append(N("device-identity", [], device_identity))
    if relay:
        kids.append(relay)
    return N("offer", c.attrs(*extra), kids)


def offer_notice(c, media="audio"):
    return N("offer_notice", c.attrs(("media", media), ("type", "group")))


def offer_receipt(to, stanza_id, c, frm=None):
    return N("receipt", [("to", to), ("id", stanza_id), ("from", frm)], [N("offer", c.attrs())])


def ack(stanza_id, type=None, frm=None, to=None, t=None, relay=None, cls="call", error=None):
    kids = [relay] if relay else []
    if error:
        kids.append(N("error", [("code", error[0]), ("text", error[1])]))
    return N("ack", [("class", cls), ("id", stanza_id), ("from", frm), ("to", to), ("type", type), ("t", t)],
             kids or None)


def preaccept(c, rates=(16000,), video=False):
    kids = [audio(r) for r in rates]
    if video:
        kids.append(N("video", [("dec", "H264"), ("device_orientation", "0"), ("screen_width", "0"),
                                ("screen_height", "0")]))
    return N("preaccept", c.attrs(), kids + [encopt(), capability(CAP_PREACCEPT)])


def accept(c, rates=(16000,), te=None, video=False, rte=None, voip_settings=VOIP_SETTINGS_111):
    kids = [audio(r) for r in rates]
    if video:
        kids.append(N("video", [("dec", "H264"), ("device_orientation", "0")]))
    if te:
        kids.append(N("te", [("priority", "2")], te))
    kids += [net(2), encopt(), capability(CAP_OFFER)]
    if rte:
        kids.append(N("rte", [], rte))
    if voip_settings:
        kids.append(N("voip_settings", [("uncompressed", "1")], voip_settings))
    return N("accept", c.attrs(), kids)


def reject(c, reason=None):
    return N("reject", c.attrs(("count", "0"), ("reason", reason)))


def terminate(c, reason=None, duration=None, audio_duration=None, devices=()):
    kids = [destination([(d, None) for d in devices])] if devices else None
    return N("terminate", c.attrs(("reason", reason), ("duration", duration), ("audio_duration", audio_duration)), kids)


def transport(c, msg_type, cand_round="1", te=None):
    """Types: 1 relay candidate, 3 peer ICE, 9 keepalive/reply (no net protocol)."""
    kids = [N("te", [("priority", "1")], te)] if te else []
    kids.append(net(2, None if str(msg_type) == "9" else "0"))
    return N("transport", c.attrs(("p2p-cand-round", cand_round), ("transport-message-type", str(msg_type))), kids)


def relaylatency(c, rtt_ms, relay_name, ip, port=RELAY_PORT, devices=()):
    kids = [N("te", [("latency", str((LATENCY_BASE + rtt_ms) & 0xFFFFFFFF)), ("relay_name", relay_name)],
              endpoint_bytes(ip, port))]
    if devices:
        kids.append(destination([(d, None) for d in devices]))
    return N("relaylatency", c.attrs(), kids)


def heartbeat(c):
    return N("heartbeat", c.attrs())


def mute_v2(c, state):
    return N("mute_v2", c.attrs(("mute-state", state)))


def video_state(c, state, dec=None, device_orientation=None, voip_settings=None):
    return N("video", c.attrs(("state", str(state)), ("dec", dec), ("voip_settings", voip_settings),
                              ("device_orientation", device_orientation)))


def enc_rekey(c, transaction_id, ciphertext, type="msg", device_identity=None):
    kids = [encopt(), enc(ciphertext, type)]
    if device_identity:
        kids.append(N("device-identity", [], device_identity))
    return N("enc_rekey", c.attrs(("transaction-id", str(transaction_id))), kids)


def group_info(c, transaction_id, users, media="audio", group_jid=None, rekey=None):
    """users: [(user jid, state or None, [(device jid, pid or None)])]."""
    kids = [N("user", [("jid", u), ("state", st)],
              [N("device", [("jid", d), ("pid", pid)], [capability(CAP_OFFER)]) for d, pid in devs])
            for u, st, devs in users]
    return N("group_info", [("transaction-id", str(transaction_id)), ("media", media), ("connected-limit", "32"),
                            ("joinable", "1"), ("rekey", rekey), ("group-jid", group_jid),
                            ("call-id", c.call_id), ("call-creator", c.creator)], kids)


def group_update(c, info, relay=None):
    kids = [info, N("av_upgrade", [("av-upgradable", "1")])] + ([relay] if relay else [])
    return N("group_update", c.attrs(), kids)


def message(to, msg_id, body_ct):
    """A non-call stanza for contrast: an encrypted chat message."""
    return N("message", [("to", to), ("id", msg_id), ("type", "text")], [enc(body_ct, "msg")])


def iq_ping(iq_id):
    return N("iq", [("id", iq_id), ("xmlns", "w:p"), ("type", "get"), ("to", "s.whatsapp.net")], [N("ping")])


# ---- facts a dissector should extract (computed from the DECODED node) ---------------------------------------
def _walk(node, parents=()):
    yield node, parents
    if isinstance(node[2], list):
        for child in node[2]:
            yield from _walk(child, parents + (node,))


def _attr(node, key):
    return next((v for k, v in node[1] if k == key), None)


def decode_endpoint(b):
    if not isinstance(b, bytes) or len(b) not in (6, 18):
        return None
    return str(ipaddress.ip_address(b[:-2])), int.from_bytes(b[-2:], "big")


def decode_hbh(text):
    """Base64 once; if that is not 30 bytes, once more (§3.3)."""
    try:
        once = base64.b64decode(text, validate=True)
        if len(once) == 30:
            return once
        twice = base64.b64decode(once, validate=True)
        return twice if len(twice) == 30 else None
    except ValueError:
        return None


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def describe(node):
    """Facts for the manifest from a decoded node (attrs are text, binary content is bytes)."""
    tag, attrs, content = node
    f = {"tag": tag, "stanza_id": _attr(node, "id"), "action": None, "call_id": None, "call_creator": None}
    kids = content if isinstance(content, list) else []
    if tag == "call":
        act = next((k for k in kids if k[0] in ACTIONS), None)
        if act:
            f.update(action=act[0], call_id=_attr(act, "call-id"), call_creator=_attr(act, "call-creator"))
    elif tag == "receipt":
        off = next((k for k in kids if k[0] == "offer"), None)
        if off:
            f.update(call_id=_attr(off, "call-id"), call_creator=_attr(off, "call-creator"))
    if tag == "ack":
        f.update(ack_class=_attr(node, "class"), ack_type=_attr(node, "type"))
    f["te"], f["relaylatency_rtt_ms"], f["enc"] = [], [], []
    for n, parents in _walk(node):
        if n[0] in ("te", "te2"):
            ep = decode_endpoint(n[2])
            if ep:
                f["te"].append({"tag": n[0], "ip": ep[0], "port": ep[1], "attrs": dict(n[1])})
            lat = _attr(n, "latency")
            if lat is not None and any(p[0] == "relaylatency" for p in parents):
                f["relaylatency_rtt_ms"].append(int(lat) - LATENCY_BASE)
        elif n[0] == "enc":
            to = next((p for p in reversed(parents) if p[0] == "to"), None)
            f["enc"].append({"type": _attr(n, "type") or "pkmsg", "jid": _attr(to, "jid") if to else None,
                             "len": len(n[2]) if isinstance(n[2], bytes) else 0})
        elif n[0] == "relay":
            r = {k: v for k, v in n[1]}
            for k in n[2] if isinstance(n[2], list) else []:
                if k[0] == "key":
                    r["key"] = _text(k[2])
                elif k[0] == "hbh_key":
                    hbh = decode_hbh(_text(k[2]))
                    r["hbh_key_text"], r["hbh_key_hex"] = _text(k[2]), hbh.hex() if hbh else None
                elif k[0] == "warp_mi_tag_len":
                    r["warp_mi_tag_len"] = _text(k[2])
            f["relay"] = r
    if tag == "message":
        f["enc"] = []  # a chat <enc> is not a call-key <enc>
    return f
