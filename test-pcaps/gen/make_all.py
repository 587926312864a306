#!/usr/bin/python3
"""Writes every signaling capture, its key log and OUTDIR/manifest.json.

    /usr/bin/python3 make_all.py OUTDIR

Deterministic: every key and filler byte comes from a fixed seed, so the output is the same
bytes on every run, except the WSS capture and its TLS key log (a real TLS session).
When media.py defines make_captures(outdir, manifest), it runs after the signaling part and may
add captures to the manifest (and media to sample/call.pcap) before the manifest is written.
"""
import json
import os
import sys
import time

import noise
import pcapw
import signaling as S
import verify
import wabin
from carriers import Capture, TcpCarrier, WsCarrier, WssCarrier
from signaling import N, call

# ---- identities and addresses (documentation ranges only) --------------------------------------------
ALICE = "203746519038214"          # LID user of the caller in 1:1 calls
BOB = "98437165204871"             # LID user of the callee; devices 0 and 7
CAROL, DAVE = "176255380012345", "143209876543210"
ALICE_DEV, BOB_DEV0, BOB_DEV7 = f"{ALICE}:0@lid", f"{BOB}:0@lid", f"{BOB}:7@lid"
CAROL_DEV, DAVE_DEV3 = f"{CAROL}:0@lid", f"{DAVE}:3@lid"
ALICE_PN, BOB_PN = "15550100001@s.whatsapp.net", "15550100002@s.whatsapp.net"
SERVER = "s.whatsapp.net"
CLIENT4, SERVER4 = "192.0.2.10", "198.51.100.20"
CLIENT6, SERVER6 = "2001:db8:1::10", "2001:db8:2::20"
T0 = 1_700_000_000.0

CALLID_UP = "6A1F0C2D9E8B7A65F4E3D2C1B0A99887"        # uppercase hex: travels HEX_8
CALLID_LO = "00" + "3c9e1d4b7a2f6e80c5d19b3a7e4f21"  # "00" + 30 lowercase hex: travels BINARY_8


def relay_endpoints(v6=True):
    eps = [S.Endpoint("203.0.113.10", relay_id="1", relay_name="gru1c02", c2r_rtt="23")]
    if v6:
        eps.append(S.Endpoint("2001:db8:3::10", relay_id="1", relay_name="gru1c02"))
    eps += [S.Endpoint("203.0.113.30", S.WEB_RELAY_PORT, relay_id="3", relay_name="mia3c05", token_id="1",
                       auth_token_id="1", c2r_rtt="41"),
            S.Endpoint("203.0.113.20", relay_id="2", relay_name="for2c01", auth_token_id="0", protocol=None,
                       is_fna="1")]
    return eps


# The README sample call: media.py reads these (and the manifest) to add the media plane.
SAMPLE = dict(call_id="8D2E5F0A1B3C4D6E7F8091A2B3C4D5E6", caller=ALICE_DEV, callee=BOB_DEV0,
              client=CLIENT4, client_port=50001, server=SERVER4, server_port=443,
              media_start=T0 + 3000 + 3.0, media_end=T0 + 3000 + 13.0)


def sample_relay():
    return S.Relay("sample", relay_endpoints(v6=False), self_pid="1", peer_pid="2")


def sid(label, n=20):
    """Deterministic uppercase-hex stanza id (travels HEX_8 like real 3EB0... ids)."""
    return ("3EB0" + S.det_bytes("sid|" + label, n).hex().upper())[:n]


# ---- one Noise connection -------------------------------------------------------------------------------
class Piece:
    """Bytes of one direction's stream and the manifest entry they complete (if any)."""

    def __init__(self, data, entry=None):
        self.data, self.entry = data, entry


def frame3(payload):
    return len(payload).to_bytes(3, "big") + payload


class Conn:
    """A Noise connection on a carrier; builds the wire bytes and records the manifest."""

    def __init__(self, carrier, name, seed, dict_version=3, edge=None, pattern="XX", platform="android"):
        self.carrier, self.name, self.dict_version, self.edge, self.pattern = carrier, name, dict_version, edge, pattern
        self.priv = {r: noise.derive_private(seed, r) for r in ("ce", "cs", "se", "ss", "stale_ss", "inter")}
        self.prologue = b"WA\x06" + bytes([dict_version])
        p = self.priv
        cert = noise.cert_chain(noise.pub(p["ss"]), noise.pub(p["inter"]), seed.encode())
        payload = noise.client_payload(15550100000 + len(seed), 0)
        if pattern == "XX":
            hs = noise.xx_handshake(self.prologue, p["ce"], p["cs"], p["se"], p["ss"], cert, payload)
        elif pattern == "IK":
            hs = noise.ik_handshake(self.prologue, p["ce"], p["cs"], p["se"], p["ss"], payload, b"\x08\x01")
        else:
            hs = noise.ik_fallback_handshake(self.prologue, p["ce"], p["cs"], p["se"], p["ss"],
                                             noise.pub(p["stale_ss"]), payload, cert, payload)
        if hs["client_finish"]:  # the generated transcript must replay from the client's keys alone
            name_ = noise.NAME_XX if pattern == "XX" else noise.NAME_XXFALLBACK
            got = noise.replay_xx_client(self.prologue, p["ce"], p["cs"], hs["client_hello"], hs["server_hello"],
                                         hs["client_finish"], name_)
            assert got[:2] == (hs["k_c2s"], hs["k_s2c"]), "handshake replay mismatch"
        self.hs = hs
        self.keys = {"c2s": hs["k_c2s"], "s2c": hs["k_s2c"]}
        self.ctr = {"c2s": 0, "s2c": 0}
        self.off = {True: 0, False: 0}
        self.handshake, self.frames = [], []
        self.call_ids = {}  # stanza id -> call-id, to tie acks to their call
        self.platform = platform

    # -- handshake pieces
    def _hs_piece(self, msg, direction, data):
        e = {"msg": msg, "direction": direction, "hex": data.hex()}
        self.handshake.append(e)
        return Piece(frame3(data), e)

    def hello(self):
        pre = b""
        if self.edge is not None:
            pre = b"ED\x00\x01" + frame3(self.edge)
        p = self._hs_piece("client_hello", "c2s", self.hs["client_hello"])
        p.data = pre + self.prologue + p.data
        return p

    def server_hello(self):
        return self._hs_piece("server_hello", "s2c", self.hs["server_hello"])

    def client_finish(self):
        return self._hs_piece("client_finish", "c2s", self.hs["client_finish"])

    # -- transport frames
    def frame(self, d, node=None, compress=False, payload=None, flip=False, expect="ok", why=None):
        """One transport frame. node -> encoded + packed; or payload = the packed payload bytes
        as given (for malformed cases). flip corrupts one ciphertext byte (GCM must fail)."""
        if node is not None:
            payload = wabin.pack(wabin.encode(node, self.dict_version), compress)
        counter = self.ctr[d]
        self.ctr[d] += 1
        ct = noise.transport_encrypt(self.keys[d], counter, payload)
        if flip:
            ct = ct[:5] + bytes([ct[5] ^ 0x40]) + ct[6:]
        e = {"index": len(self.frames), "direction": d, "counter": counter, "pcap_frame": None,
             "wire_len": len(ct) + 3, "format_byte": payload[0], "compressed": bool(payload[0] & 2),
             "payload_hex": payload.hex(), "plaintext_hex": None, "xml": None}
        try:
            nb = wabin.unpack(payload)
            e["plaintext_hex"] = nb.hex()
            dec = wabin.decode(nb, self.dict_version)
            e["xml"] = wabin.to_xml(dec)
            e.update(S.describe(dec))
            if node is not None:
                assert dec[0] == node[0], "decoder disagrees with encoder"
        except Exception as ex:  # malformed on purpose: the manifest says why
            if expect == "ok":
                raise
            e["decode_error"] = str(ex)
        if e.get("tag") == "ack" and e.get("stanza_id") in self.call_ids:
            e["ack_for_call_id"] = self.call_ids[e["stanza_id"]]
        elif e.get("call_id") and e.get("stanza_id"):
            self.call_ids[e["stanza_id"]] = e["call_id"]
        e["expect"], e["why"] = ("bad_tag", "ciphertext byte 5 flipped") if flip else (expect, why)
        self.frames.append(e)
        return Piece(len(ct).to_bytes(3, "big") + ct, e)

    def tx(self, d, node, **kw):
        """Shortcut: one frame sent in its own write."""
        self.send(d, self.frame(d, node, **kw))

    # -- sending
    def open(self):
        self.carrier.open()
        return self

    def send(self, d, *pieces, split=None, drop=(), cut=None):
        """Writes pieces as one carrier write (coalesced), cut at split sizes. cut=n writes only
        the first n bytes (a capture that ends mid-frame)."""
        fc = d == "c2s"
        data = b"".join(p.data for p in pieces)
        if cut is not None:
            data = data[:cut]
        start = pos = self.off[fc]
        ranges = []
        for n, fr in self.carrier.write(fc, data, split, drop):
            ranges.append((pos, pos + n, fr))
            pos += n
        self.off[fc] = pos
        pos = start
        for p in pieces:
            a, b = pos, pos + len(p.data)
            pos = b
            if p.entry is None:
                continue
            cover = [r for r in ranges if r[0] < b and r[1] > a]
            if b > start + len(data):
                p.entry.update(expect="truncated", why="the capture ends inside this frame", _fr=None)
            elif any(r[2] is None for r in cover):
                p.entry.update(expect="lost", why="a TCP segment carrying this frame is missing", _fr=None)
            else:
                p.entry["_fr"] = cover[-1][2]

    def handshake_xx(self, sh_split=None, finish_with=(), finish_split=None):
        self.send("c2s", self.hello(), split=[4] if self.edge is not None else None)
        self.send("s2c", self.server_hello(), split=sh_split)
        if self.hs["client_finish"]:
            self.send("c2s", self.client_finish(), *finish_with, split=finish_split)
        elif finish_with:
            self.send("c2s", *finish_with, split=finish_split)

    # -- key log and manifest
    def traffic_line(self, k_c2s=None):
        return (f"WA_NOISE_TRAFFIC {self.hs['ce_pub'].hex()} {(k_c2s or self.keys['c2s']).hex()} "
                f"{self.keys['s2c'].hex()}")

    def private_line(self):
        return f"WA_NOISE_PRIVATE {self.hs['ce_pub'].hex()} {self.priv['ce'].hex()} {self.priv['cs'].hex()}"

    def manifest(self, cap):
        for e in self.handshake + self.frames:
            e["pcap_frame"] = cap.number(e.pop("_fr", None))
        f = self.carrier.flow
        return {"name": self.name, "transport": self.carrier.kind, "client": f"{f.c}:{f.cp}",
                "server": f"{f.s}:{f.sp}", "dict_version": self.dict_version, "pattern": self.pattern,
                "edge_routing_hex": None if self.edge is None else self.edge.hex(),
                "client_ephemeral_public": self.hs["ce_pub"].hex(),
                "client_ephemeral_private": self.priv["ce"].hex(),
                "client_static_private": self.priv["cs"].hex(),
                "client_static_public": noise.pub(self.priv["cs"]).hex(),
                "server_static_public": self.hs["ss_pub"].hex(),
                "k_c2s": self.keys["c2s"].hex(), "k_s2c": self.keys["s2c"].hex(),
                "handshake": self.handshake, "frames": self.frames}


# ---- capture assembly ------------------------------------------------------------------------------------
class Out:
    """Collects files and manifest entries under OUTDIR."""

    def __init__(self, outdir):
        self.dir = outdir
        self.manifest = {"generator": "test-pcaps/gen/make_all.py", "version": 1, "rules": RULES,
                         "captures": []}

    def path(self, name):
        p = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def keylog(self, name, lines, eol="\n"):
        with open(self.path(name), "w", newline="") as f:
            f.write("".join(line + eol for line in lines))

    def capture(self, pcap, cap, conns, keylog, description, **extra):
        """Manifest entry in the shared schema (name, pcap, keylog, description) + connections."""
        n = cap.write(self.path(pcap))
        entry = {"name": pcap[:-5], "pcap": pcap, "keylog": keylog, "description": description, "pcap_frames": n,
                 "connections": [c.manifest(cap) for c in conns]}
        entry.update(extra)
        self.manifest["captures"].append(entry)
        return entry


RULES = {
    "expect": {"ok": "decrypts (GCM tag good) and decodes as WABinary",
               "bad_tag": "GCM authentication fails with the key log's key",
               "malformed": "decrypts, but the WABinary node is invalid (see decode_error)",
               "zlib_error": "decrypts, format byte 0x02, the zlib stream is invalid",
               "lost": "a TCP segment of this frame is not in the capture",
               "truncated": "the capture ends inside this frame",
               "no_key": "no key for the session: ciphertext shown, an expert item, no WABinary",
               "after_gap": "intact, but a whole earlier frame of this direction is missing: it decrypts with "
                            "the manifest counter (a plugin that notices the TCP gap can skip ahead); a plugin "
                            "that only counts the frames it saw gets bad_tag"},
    "facts": "xml, tag, action, call_id, te, enc, relay... describe the frame's plaintext; a dissector can show "
             "them only where expect is ok (or after_gap with resync)",
    "ack_for_call_id": "on an <ack>, the call-id of the earlier <call> in the same connection whose stanza id "
                       "it echoes (the ack itself names no call)",
    "counter": "per direction, from 0 at the first frame after the last handshake message; a frame "
               "that fails GCM still consumes its counter",
    "pcap_frame": "1-based number of the pcap frame carrying the last byte of the Noise frame "
                  "(for WS/WSS: the last TCP segment of the WebSocket message / TLS record)",
    "xml": "decoded node: attrs in wire order, JIDs as text (device 0 omitted), binary content as "
           "lowercase hex, string content as text",
    "te": "every <te>/<te2> whose content is 6 (IPv4+port) or 18 (IPv6+port) bytes",
    "relaylatency_rtt_ms": "latency attribute of a <te> inside <relaylatency>, minus 0x02000000",
    "hbh_key_hex": "<hbh_key> base64-decoded once, or twice when once does not give 30 bytes",
}


def flow(cport, sport, t0, v6=False, isn=1000):
    return pcapw.TcpFlow(CLIENT6 if v6 else CLIENT4, cport, SERVER6 if v6 else SERVER4, sport, t0=t0,
                         isn_c=isn, isn_s=isn * 50)


def inbound(action, frm, id, t, **more):
    """Envelope of a stanza the server delivers from a peer device."""
    return call(action, frm=frm, id=id, t=str(int(t)), **more)


# ---- scenarios ------------------------------------------------------------------------------------------
def call_1to1_caller(conn, c, relay, callee_devices=(BOB_DEV0, BOB_DEV7), video=False, extras=True):
    """Alice (the client) calls Bob: offer out, server ack with the relay block, ring, answer,
    transport/relaylatency, in-call updates, terminate. Exercises TCP segmentation variants."""
    t = conn.carrier.flow.t
    offer_id = sid(c.call_id + "offer")
    targets = [(d, S.enc(S.det_bytes(f"{c.call_id}|enc|{d}", 180 if i == 0 else 90), "pkmsg" if i == 0 else "msg"))
               for i, d in enumerate(callee_devices)]
    offer = call(S.offer(c, targets, privacy=S.det_bytes("privacy", 26), video=video,
                         device_identity=S.det_bytes("adv|" + c.call_id, 140)), to=f"{BOB}@lid", id=offer_id)
    finish = [conn.frame("c2s", offer)] if conn.hs["client_finish"] else []
    conn.handshake_xx(sh_split=[120], finish_with=finish,
                      finish_split=[len(conn.hs["client_finish"]) + 3 + 40] if finish else None)
    if not finish:
        conn.tx("c2s", offer)
    ack = S.ack(offer_id, "offer", frm=SERVER, t=str(int(t)), relay=relay.node())
    conn.send("s2c", conn.frame("s2c", ack, compress=True), split=[2])       # the 3-byte length is split 2|1
    frm = callee_devices[-1]
    conn.send("s2c", conn.frame("s2c", S.offer_receipt(ALICE_DEV, offer_id, c, frm=frm)),
              conn.frame("s2c", inbound(S.preaccept(c, video=video), frm, sid(c.call_id + "pre"), t + 1,
                                        platform=conn.platform, version="2.24.1.80")))   # two frames in one segment
    conn.tx("c2s", S.ack(sid(c.call_id + "pre"), "preaccept", to=frm))
    conn.send("s2c", conn.frame("s2c", inbound(S.accept(c, te=S.endpoint_bytes("203.0.113.10", 3478), video=video),
                                               frm, sid(c.call_id + "acc"), t + 3), compress=True), split=[1, 60])
    conn.send("c2s", conn.frame("c2s", S.ack(sid(c.call_id + "acc"), "accept", to=frm)),
              conn.frame("c2s", call(S.transport(c, 1, te=relay.tokens[0]), to=frm)), split=[10])
    conn.tx("s2c", inbound(S.transport(c, 3), frm, sid(c.call_id + "tr3"), t + 4))
    conn.send("c2s", conn.frame("c2s", call(S.transport(c, 9), to=frm)),
              conn.frame("c2s", call(S.relaylatency(c, 45, "gru1c02", "203.0.113.10", devices=[frm]), to=frm)))
    if extras:
        conn.tx("s2c", inbound(S.mute_v2(c, "1"), frm, sid(c.call_id + "mute"), t + 20))
        conn.tx("c2s", call(S.video_state(c, 3, dec="H264", device_orientation="0"), to=frm, id=sid(c.call_id + "v3")))
        conn.tx("s2c", inbound(S.video_state(c, 5), frm, sid(c.call_id + "v5"), t + 22), compress=True)
        conn.tx("s2c", N("message", [("from", f"{CAROL}@lid"), ("id", sid("msg1")), ("type", "text"),
                                      ("t", str(int(t + 23)))], [S.enc(S.det_bytes("chat", 73), "msg")]), compress=True)
        conn.tx("c2s", S.iq_ping(sid("ping1")))
        conn.tx("s2c", N("iq", [("from", SERVER), ("id", sid("ping1")), ("type", "result")]))
    conn.tx("c2s", call(S.heartbeat(c), to=f"{c.call_id}@call", id=sid(c.call_id + "hb")))
    conn.tx("s2c", S.ack(sid(c.call_id + "hb"), "heartbeat", frm=SERVER))
    conn.tx("c2s", call(S.terminate(c, duration="62", audio_duration="60"), to=frm))
    conn.tx("s2c", S.ack(sid(c.call_id + "term"), "terminate", frm=SERVER))


def call_1to1_callee(conn, c, relay):
    """Bob's primary device (the client) receives Alice's offer with the relay block inside,
    answers and the caller hangs up."""
    t = conn.carrier.flow.t
    conn.handshake_xx(sh_split=[3])                                   # the length alone in one segment
    offer_id = sid(c.call_id + "offer")
    offer = inbound(S.offer(c, bare_enc=S.enc(S.det_bytes("callee-enc", 170)), privacy=S.det_bytes("pv", 24),
                            device_identity=S.det_bytes("adv2", 150), relay=relay.node(),
                            extra=[("caller_pn", ALICE_PN), ("caller_country_code", "US"), ("device_class", "2016")]),
                    ALICE_DEV, offer_id, t, notify="Alice", platform="iphone", version="2.24.2.76", e="1")
    conn.send("s2c", conn.frame("s2c", offer, compress=True), split=[200, 200])
    conn.send("c2s", conn.frame("c2s", S.ack(offer_id, "offer", to=ALICE_DEV)),
              conn.frame("c2s", S.offer_receipt(ALICE_DEV, offer_id, c, frm=BOB_DEV0)))
    conn.tx("c2s", call(S.preaccept(c), to=ALICE_DEV, id="b6e0c2a17f"))
    acc_id = sid(c.call_id + "acc")
    conn.tx("c2s", call(S.accept(c, rates=(8000, 16000), te=S.endpoint_bytes("2001:db8:3::10", 3478),
                                 rte=S.det_bytes("rte", 12), voip_settings=S.VOIP_SETTINGS_120),
                        to=ALICE_DEV, id=acc_id))
    patch = S.Relay(c.call_id + "patch", [], warp_mi_tag_len=None, n_tokens=0)
    conn.tx("s2c", S.ack(acc_id, "accept", frm=SERVER, relay=patch.node()))   # relay patch: fresh keys only
    conn.tx("s2c", inbound(S.transport(c, 1, te=relay.tokens[1]), ALICE_DEV, sid(c.call_id + "t1"), t + 3))
    conn.send("c2s", conn.frame("c2s", call(S.transport(c, 9, "2"), to=ALICE_DEV)),
              conn.frame("c2s", call(S.relaylatency(c, 12, "mia3c05", "203.0.113.30", S.WEB_RELAY_PORT), to=ALICE_DEV)),
              conn.frame("c2s", call(S.relaylatency(c, 300, "gru1c02", "203.0.113.10"), to=ALICE_DEV)),
              split=[5, 40, 3])
    conn.tx("s2c", inbound(S.terminate(c, duration="15", audio_duration="14"), ALICE_DEV, sid(c.call_id + "end"), t + 30),
            compress=True)
    conn.tx("c2s", S.ack(sid(c.call_id + "end"), "terminate", to=ALICE_DEV))


def v2dict_calls(conn):
    """Three short calls in the v2 dictionary: reject with reason, reject without, missed call
    ending in terminate timeout, and one answered elsewhere."""
    conn.handshake_xx()
    t = conn.carrier.flow.t
    for i, (end, reason) in enumerate((("reject", "busy"), ("reject", None), ("timeout", "timeout"),
                                       ("elsewhere", "accepted_elsewhere"))):
        c = S.Call(sid(f"v2call{i}", 32), ALICE_DEV)
        oid = sid(f"v2offer{i}")
        conn.tx("s2c", inbound(S.offer(c, bare_enc=S.enc(S.det_bytes(f"v2enc{i}", 120), "msg")), ALICE_DEV, oid, t + i),
                compress=i % 2 == 1)
        conn.tx("c2s", S.offer_receipt(ALICE_DEV, oid, c, frm=BOB_DEV0))
        if end == "reject":
            conn.tx("c2s", call(S.reject(c, reason), to=ALICE_DEV))
        else:
            if end == "elsewhere":
                conn.tx("c2s", call(S.mute_v2(c, "0"), to=ALICE_DEV))
                conn.tx("c2s", call(S.heartbeat(c), to=f"{c.call_id}@call", id=sid(f"v2hb{i}")))
            conn.tx("s2c", inbound(S.terminate(c, reason, devices=[BOB_DEV7] if end == "elsewhere" else ()),
                                   ALICE_DEV, sid(f"v2end{i}"), t + 30 + i))


def group_call(conn, relay):
    """Carol (the client) joins Alice's group call over WebSocket: offer_notice, group offer with
    <group_info>, preaccept/accept to <call-id>@call, group_update with relay, enc_rekey both ways.
    Also the forced encodings (BINARY_20/32, FB/INTEROP/hosted JIDs) that nothing else produces."""
    c = S.Call(CALLID_LO, ALICE_DEV)
    t = conn.carrier.flow.t
    hello, sh = conn.hello(), conn.server_hello()
    conn.send("c2s", hello, split=[20])                       # ClientHello spans two WS messages
    conn.send("s2c", sh, split=[50, 100])                     # ServerHello spans three
    users = [(f"{ALICE}@lid", "connected", [(ALICE_DEV, "1")]), (f"{DAVE}@lid", None, [(DAVE_DEV3, "3")]),
             (f"{CAROL}@lid", None, [(CAROL_DEV, "4")])]
    info = S.group_info(c, 1, users, media="video", group_jid="120363041234567890@g.us")
    gid = sid("goffer")
    notice = inbound(S.offer_notice(c, "video"), ALICE_DEV, sid("notice"), t)
    offer = inbound(S.offer(c, bare_enc=S.enc(wabin.Raw(S.det_bytes("genc", 96), 20), "pkmsg"),
                            privacy=wabin.Raw(S.det_bytes("gpv", 20), 32), rates=(16000,), group_info_node=info,
                            relay=relay.node([("transaction-id", "1"), ("participant_uuid", "c0ffee01"),
                                              ("attribute_padding", "1")]),
                            extra=[("joinable", "1"), ("group-jid", "120363041234567890@g.us")]),
                    ALICE_DEV, gid, t + 1, notify="Alice")
    # ClientFinish + first two transport frames in one WS message; the next message cuts a frame
    conn.send("c2s", conn.client_finish(), conn.frame("c2s", S.iq_ping(sid("gping"))),
              conn.frame("c2s", N("presence", [("type", "available"), ("name", "Carol")])))
    conn.send("s2c", conn.frame("s2c", notice), conn.frame("s2c", offer, compress=True), split=[30])
    conn.send("c2s", conn.frame("c2s", S.offer_receipt(ALICE_DEV, gid, c, frm=CAROL_DEV)),
              conn.frame("c2s", call(S.preaccept(c, video=True), to=f"{c.call_id}@call", id=sid("gpre"))))
    conn.tx("c2s", call(S.accept(c, video=True), to=f"{c.call_id}@call", id=sid("gacc")))
    upd_info = S.group_info(c, 2, users[:2] + [(f"{CAROL}@lid", "connected", [(CAROL_DEV, "4")])], media="video",
                            rekey="1")
    conn.tx("s2c", inbound(S.group_update(c, upd_info, relay.node()), ALICE_DEV, sid("gupd"), t + 5), compress=True)
    conn.tx("s2c", inbound(S.enc_rekey(c, 2, S.det_bytes("rekey-in", 64)), ALICE_DEV, sid("grk"), t + 6))
    for dev in (ALICE_DEV, DAVE_DEV3):
        conn.tx("c2s", call(S.enc_rekey(c, 2, S.det_bytes("rekey-out" + dev, 64), "pkmsg" if dev == DAVE_DEV3 else "msg",
                                        device_identity=S.det_bytes("cadv", 120) if dev == DAVE_DEV3 else None),
                            to=dev))
    conn.tx("c2s", call(S.heartbeat(c), to=wabin.JidPair(c.call_id, "call"), id=sid("ghb")))
    conn.tx("s2c", inbound(S.video_state(c, 1), wabin.AdJid(DAVE, 3, "lid"), sid("gv1"), t + 8))
    conn.tx("c2s", call(S.mute_v2(c, "1"), to=f"{c.call_id}@call"))
    # forced encodings on non-call stanzas: plugin must decode them, no call semantics
    conn.tx("s2c", N("receipt", [("from", wabin.FbJid("100042", 12)), ("id", wabin.Packed("ABC123")),
                                 ("t", wabin.Packed("1700000100", "nibble")), ("type", "read")]))
    conn.tx("s2c", N("message", [("from", wabin.InteropJid("447700900123", 1, 6)), ("id", wabin.Raw("msgid-7")),
                                 ("participant", wabin.AdJid("700000000001", 2, "hosted")),
                                 ("to", wabin.Jid(CAROL, "lid"))],
                     [N("enc", [("v", "2"), ("type", "msg")], wabin.Raw(S.det_bytes("big", 300), 32)),
                      N("body", [], "x" * 200)]))
    conn.tx("s2c", inbound(S.terminate(c, "group_call_ended"), ALICE_DEV, sid("gend"), t + 40))


def short_call(conn, c, relay, split_first=None):
    """A compact caller-side call for the bad-case captures."""
    oid = sid(c.call_id + "o")
    conn.tx("c2s", call(S.offer(c, [(BOB_DEV0, S.enc(S.det_bytes("se", 60)))]), to=f"{BOB}@lid", id=oid))
    conn.tx("s2c", S.ack(oid, "offer", frm=SERVER, relay=relay.node()), compress=True)
    conn.tx("s2c", inbound(S.accept(c), BOB_DEV0, sid(c.call_id + "a"), conn.carrier.flow.t))
    conn.tx("c2s", call(S.transport(c, 1, te=relay.tokens[0]), to=BOB_DEV0))
    conn.tx("c2s", call(S.relaylatency(c, 33, "gru1c02", "203.0.113.1"), to=BOB_DEV0))
    conn.tx("c2s", call(S.terminate(c, "timeout"), to=BOB_DEV0))


# ---- captures --------------------------------------------------------------------------------------------------
def make_tcp443(out):
    cap = Capture()
    conn = Conn(TcpCarrier(cap.add(flow(51234, 443, T0))), "tcp443", "tcp443").open()
    relay = S.Relay("tcp443", relay_endpoints())
    call_1to1_caller(conn, S.Call(CALLID_UP, ALICE_DEV), relay)
    conn.carrier.close()
    out.keylog("sig-tcp443.keys", ["# sig-tcp443: transport keys", conn.traffic_line()])
    out.capture("sig-tcp443.pcap", cap, [conn], "sig-tcp443.keys",
                "raw TCP to 443, XX handshake, a full 1:1 call from the caller (client) side; ClientFinish "
                "and the offer share a segment and the offer spans two; split 3-byte lengths; coalesced frames; "
                "compressed inbound frames; a chat <message> and an <iq> for contrast")
    return conn


def make_private(out):
    cap = Capture()
    conn = Conn(TcpCarrier(cap.add(flow(40108, 5222, T0 + 100))), "tcp5222", "tcp5222",
                edge=b"\x08\x09\x08\x02", platform="iphone").open()
    relay = S.Relay("tcp5222", relay_endpoints(), self_pid="2", peer_pid="1", hbh_double_b64=True)
    call_1to1_callee(conn, S.Call(CALLID_LO, ALICE_DEV), relay)
    conn.carrier.close()
    out.keylog("sig-tcp5222-private.keys", ["# only the client's private keys: the plugin replays the handshake",
                                            conn.private_line()])
    out.capture("sig-tcp5222-private.pcap", cap, [conn], "sig-tcp5222-private.keys",
                "TCP 5222 with the ED 00 01 edge-routing pre-intro; key log has WA_NOISE_PRIVATE only; the client "
                "is the callee: inbound compressed offer with a relay block (double-base64 hbh_key), receipt, "
                "preaccept, accept, relay patch in the accept ack, transport, relaylatency, terminate")


def make_v2dict(out):
    cap = Capture()
    conn = Conn(TcpCarrier(cap.add(flow(40222, 5222, T0 + 200, v6=True))), "v2dict", "v2dict", dict_version=2).open()
    v2dict_calls(conn)
    conn.carrier.close()
    out.keylog("sig-v2dict.keys", [conn.traffic_line()])
    out.capture("sig-v2dict.pcap", cap, [conn], "sig-v2dict.keys",
                "IPv6 TCP 5222, intro 57 41 06 02 (prologue too), stanzas in the v2 dictionary (every call tag "
                "has another token than in v3; mute_v2/heartbeat/destination/lid are not v2 tokens): reject with "
                "and without reason, missed call (terminate timeout), terminate accepted_elsewhere",
                dictionary_note="e.g. <offer> is 0xE3 in v2 and EC 1C in v3")


def make_ws(out, name, port, seed):
    cap = Capture()
    conn = Conn(WsCarrier(cap.add(flow(50800 + port % 100, port, T0 + 300 + port)), seed=seed), seed, seed).open()
    group_call(conn, S.Relay(seed, relay_endpoints(), self_pid="4", peer_pid="1"))
    conn.carrier.close()
    keys = name.replace(".pcap", ".keys")
    out.keylog(keys, [conn.traffic_line()])
    out.capture(name, cap, [conn], keys,
                f"plain WebSocket (GET /ws/chat, port {port}), client messages masked; Noise frames span WebSocket "
                "messages and several frames share one; a group call seen by a participant; forced encodings "
                "(BINARY_20/32, HEX/NIBBLE, FB/INTEROP/hosted AD JIDs) on non-call stanzas")


def make_wss(out):
    cap = Capture()
    f = cap.add(flow(50443, 443, T0 + 1000))
    tls_keys = out.path("sig-wss.tls-keys.txt")
    conn = Conn(WssCarrier(f, tls_keys, seed="wss"), "wss", "wss", platform="web").open()
    call_1to1_caller(conn, S.Call(sid("wsscall", 32), ALICE_DEV), S.Relay("wss", relay_endpoints()),
                     callee_devices=(BOB_DEV0,), video=True, extras=False)
    conn.carrier.close()
    out.keylog("sig-wss.keys", [conn.traffic_line()])
    out.capture("sig-wss.pcap", cap, [conn], "sig-wss.keys",
                "WebSocket inside a real TLS session on 443 (decrypt with tls.keylog_file = sig-wss.tls-keys.txt); "
                "a 1:1 video call from the caller side. NOT byte-deterministic: regenerated TLS each run",
                tls_keylog="sig-wss.tls-keys.txt", deterministic=False)


def make_ik(out):
    cap = Capture()
    ik = Conn(TcpCarrier(cap.add(flow(41001, 443, T0 + 1500))), "ik", "ik", pattern="IK").open()
    fb = Conn(TcpCarrier(cap.add(flow(41002, 443, T0 + 1510))), "ik-fallback", "ikfb", pattern="IK+XXfallback").open()
    for conn in (ik, fb):
        c = S.Call(sid(conn.name, 32), ALICE_DEV)
        conn.handshake_xx(finish_with=[conn.frame("c2s", S.iq_ping(sid(conn.name + "p")))])
        conn.tx("s2c", N("iq", [("from", SERVER), ("id", sid(conn.name + "p")), ("type", "result")]))
        conn.tx("s2c", inbound(S.offer(c, bare_enc=S.enc(S.det_bytes("ikenc", 80))), ALICE_DEV, sid(conn.name + "o"),
                               conn.carrier.flow.t))
        conn.tx("c2s", call(S.reject(c), to=ALICE_DEV))
        conn.carrier.close()
    out.keylog("sig-ik.keys", ["# IK cannot be replayed from WA_NOISE_PRIVATE (the cached server static is not on "
                               "the wire): traffic keys for both", ik.traffic_line(), fb.traffic_line()])
    out.capture("sig-ik.pcap", cap, [ik, fb], "sig-ik.keys",
                "two connections: IK accepted (ClientHello with static+payload, no ClientFinish, transport starts "
                "with the 2nd c2s frame) and IK rejected -> XXfallback (ServerHello carries static, then a "
                "ClientFinish); the first transport frame is coalesced with the last handshake message")


def make_badkey(out):
    cap = Capture()
    conn = Conn(TcpCarrier(cap.add(flow(42001, 443, T0 + 2000))), "badkey", "badkey").open()
    conn.handshake_xx()
    short_call(conn, S.Call(sid("badkey", 32), ALICE_DEV), S.Relay("badkey", relay_endpoints(False)))
    conn.carrier.close()
    wrong = bytes([conn.keys["c2s"][0] ^ 1]) + conn.keys["c2s"][1:]
    for e in conn.frames:
        if e["direction"] == "c2s":
            e.update(expect="bad_tag", why="the key log's c2s key is wrong (first byte ^ 1)")
    out.keylog("sig-badkey.keys", ["# c2s key deliberately wrong", conn.traffic_line(wrong)])
    out.capture("sig-badkey.pcap", cap, [conn], "sig-badkey.keys",
                "key log with a wrong c2s key: every c2s frame fails GCM, every s2c frame decrypts")


def make_ack_error(out):
    """The server refuses an offer: <ack type="offer"> with <error code="404" text="item-not-found">."""
    cap = Capture()
    conn = Conn(TcpCarrier(cap.add(flow(42011, 443, T0 + 2500))), "ackerr", "ackerr").open()
    conn.handshake_xx()
    c = S.Call(sid("ackerr", 32), ALICE_DEV)
    oid = sid(c.call_id + "o")
    conn.tx("c2s", call(S.offer(c, [(BOB_DEV0, S.enc(S.det_bytes("ae", 60)))]), to=f"{BOB}@lid", id=oid))
    conn.tx("s2c", S.ack(oid, "offer", frm=SERVER, error=("404", "item-not-found")))
    conn.carrier.close()
    out.keylog("sig-ack-error.keys", ["# sig-ack-error: transport keys", conn.traffic_line()])
    out.capture("sig-ack-error.pcap", cap, [conn], "sig-ack-error.keys",
                "an offer the server refuses: the call ack carries <error code=404 text=item-not-found>",
                ack_error={"code": 404, "text": "item-not-found", "call_id": c.call_id})


def make_cut(out):
    cap = Capture()
    a = Conn(TcpCarrier(cap.add(flow(43001, 443, T0 + 2100))), "cut-end", "cutend").open()
    a.handshake_xx()
    c = S.Call(sid("cut", 32), ALICE_DEV)
    a.tx("c2s", call(S.offer(c, [(BOB_DEV0, S.enc(S.det_bytes("ce", 60)))]), to=f"{BOB}@lid", id=sid("cuto")))
    a.tx("s2c", S.ack(sid("cuto"), "offer", frm=SERVER))
    last = a.frame("c2s", call(S.terminate(c), to=BOB_DEV0))
    a.send("c2s", last, cut=len(last.data) - 7)              # capture stops 7 bytes before the end
    b = Conn(TcpCarrier(cap.add(flow(43002, 443, T0 + 2200))), "cut-lost", "cutlost").open()
    b.handshake_xx()
    short = S.Call(sid("lost", 32), ALICE_DEV)
    b.tx("c2s", call(S.offer(short, [(BOB_DEV0, S.enc(S.det_bytes("le", 60)))]), to=f"{BOB}@lid", id=sid("losto")))
    b.send("c2s", b.frame("c2s", call(S.transport(short, 9), to=BOB_DEV0)), drop=(0,))   # whole frame lost
    b.tx("c2s", call(S.relaylatency(short, 50, "gru1c02", "203.0.113.10"), to=BOB_DEV0))
    b.tx("c2s", call(S.terminate(short), to=BOB_DEV0))
    b.send("s2c", b.frame("s2c", S.ack(sid("losto"), "offer", frm=SERVER, relay=S.Relay("cut", relay_endpoints()).node())),
           split=[30, 200], drop=(1,))                           # middle segment of a frame lost
    b.tx("c2s", S.iq_ping(sid("lostping")))
    b.carrier.close()
    for e in b.frames:
        if e["direction"] == "c2s" and e["counter"] >= 2:
            e.update(expect="after_gap", why="one whole c2s frame (counter 1) is missing before this one")
    out.keylog("sig-cut.keys", [a.traffic_line(), b.traffic_line()])
    out.capture("sig-cut.pcap", cap, [a, b], "sig-cut.keys",
                "conn cut-end: the capture ends 7 bytes before the end of the last c2s frame (no FIN). conn "
                "cut-lost: one whole c2s frame lost (later c2s frames are intact but one counter ahead), and the "
                "middle segment of a 3-segment s2c frame lost (that frame cannot be reassembled; the s2c stream "
                "has nothing after it)")


def make_corrupt(out):
    cap = Capture()
    conn = Conn(TcpCarrier(cap.add(flow(44001, 443, T0 + 2300))), "corrupt", "corrupt").open()
    conn.handshake_xx()
    c = S.Call(sid("corrupt", 32), ALICE_DEV)
    conn.tx("c2s", call(S.offer(c, [(BOB_DEV0, S.enc(S.det_bytes("xe", 60)))]), to=f"{BOB}@lid", id=sid("xo")))
    conn.tx("s2c", S.ack(sid("xo"), "offer", frm=SERVER), flip=True)
    conn.tx("s2c", inbound(S.preaccept(c), BOB_DEV0, sid("xp"), conn.carrier.flow.t))
    conn.send("s2c", conn.frame("s2c", payload=bytes.fromhex("00f804f1"), expect="malformed",
                                why="tag byte 0xF1 is an unassigned token"))
    conn.send("s2c", conn.frame("s2c", payload=bytes.fromhex("00f805640811f801"), expect="malformed",
                                why="truncated: the node list says 5 items / the child list is cut"))
    conn.send("s2c", conn.frame("s2c", payload=bytes.fromhex("00f80264ff01c0"), expect="malformed",
                                why="NIBBLE_8 with nibble 12"))
    conn.send("s2c", conn.frame("s2c", payload=b"\x02" + S.det_bytes("zlib-garbage", 40), expect="zlib_error",
                                why="format byte 0x02 followed by bytes that are not a zlib stream"))
    conn.tx("s2c", inbound(S.accept(c), BOB_DEV0, sid("xa"), conn.carrier.flow.t))
    conn.tx("c2s", call(S.relaylatency(c, 45, "gru1c02", "203.0.113.1"), to=BOB_DEV0), flip=True)
    conn.tx("c2s", call(S.terminate(c), to=BOB_DEV0))
    conn.carrier.close()
    out.keylog("sig-corrupt.keys", [conn.traffic_line()])
    out.capture("sig-corrupt.pcap", cap, [conn], "sig-corrupt.keys",
                "frames with a flipped ciphertext byte (c2s and s2c), three malformed WABinary payloads (bad token, "
                "truncated list, bad nibble) and one zlib frame with garbage, between good frames that must still "
                "decode (a failed frame still consumes its counter)")


def make_keylog_broken(out, conn443):
    """Every kind of bad line, plus the good lines sig-tcp443 needs (CRLF, tabs, uppercase)."""
    ce, kc, ks = conn443.hs["ce_pub"].hex(), conn443.keys["c2s"].hex(), conn443.keys["s2c"].hex()
    other = S.det_bytes("other-session", 96).hex()
    lines = [
        ("# broken key log for sig-tcp443.pcap: every bad kind, plus good lines", "comment"),
        ("", "blank"),
        (f"WA_NOISE_TRAFFIC\t{ce.upper()}\t{kc.upper()}  {ks}", "good"),
        (f"WA_NOISE_SECRET {ce} {kc} {ks}", "unknown_label"),
        (f"WA_NOISE_TRAFFIC {ce[:62]} {kc} {ks}", "wrong_length"),
        (f"WA_NOISE_TRAFFIC {ce} {kc[:63]} {ks}", "wrong_length"),
        (f"WA_NOISE_TRAFFIC {ce} {kc[:60]}zzzz {ks}", "bad_hex"),
        (f"WA_NOISE_TRAFFIC {ce} {kc}", "missing_field"),
        (f"WA_NOISE_PRIVATE {ce} {conn443.priv['ce'].hex()}", "missing_field"),
        ("WA_CALL_KEY", "missing_field"),
        (f"WA_NOISE_TRAFFIC {ce} {kc} {ks}", "duplicate_agreeing"),
        (f"WA_NOISE_TRAFFIC {other[:64]} {other[64:128]} {other[128:]}", "good_unused"),
        (f"WA_NOISE_TRAFFIC {other[:64]} {other[128:]} {other[64:128]}", "duplicate_conflicting"),
        (f"WA_CALL_KEY {CALLID_UP} {S.det_bytes('ck1', 32).hex()}", "good"),
        (f"WA_CALL_KEY {CALLID_UP} {S.det_bytes('ck2', 32).hex()}", "duplicate_conflicting"),
        (f"WA_PARTICIPANT {CALLID_UP} {BOB}@lid", "good"),
        ("WA_NOISE_TRAFFIC " + "ab" * 50000, "too_long"),
        ('{"call_id": "%s", "call_key_hex": "%s", "peer_lid": "%s"}' % (CALLID_UP, S.det_bytes("ck1", 32).hex(),
                                                                          BOB_DEV0), "good_json"),
        ('{"call_id": "%s", "call_key_hex": ' % CALLID_UP, "bad_json"),
        ("   \t ", "blank"),
    ]
    # CRLF on every line but two, to mix line ends
    text = "".join(l + ("\n" if i in (5, 9) else "\r\n") for i, (l, _) in enumerate(lines))
    with open(out.path("keylog-broken.txt"), "w", newline="") as f:
        f.write(text)
    return [{"line": i + 1, "kind": k} for i, (_, k) in enumerate(lines)]


def make_sample(out):
    """sample/call.pcap + sample/call.keys: a concise 1:1 call with a media gap for media.py."""
    cap = Capture()
    f = cap.add(pcapw.TcpFlow(SAMPLE["client"], SAMPLE["client_port"], SAMPLE["server"], SAMPLE["server_port"],
                              t0=T0 + 3000, isn_c=7000, isn_s=90000))
    conn = Conn(TcpCarrier(f), "sample", "sample").open()
    c = S.Call(SAMPLE["call_id"], SAMPLE["caller"])
    relay = sample_relay()
    oid = sid("sample-offer")
    conn.handshake_xx(finish_with=[conn.frame("c2s", call(S.offer(c, [(SAMPLE["callee"], S.enc(S.det_bytes("se", 180)))],
                                                                   device_identity=S.det_bytes("sadv", 140)),
                                                           to=f"{BOB}@lid", id=oid))])
    f.idle(0.2)
    conn.tx("s2c", S.ack(oid, "offer", frm=SERVER, relay=relay.node()), compress=True)
    f.idle(0.3)
    conn.tx("s2c", S.offer_receipt(ALICE_DEV, oid, c, frm=SAMPLE["callee"]))
    conn.tx("s2c", inbound(S.preaccept(c), SAMPLE["callee"], sid("sample-pre"), f.t))
    f.idle(1.5)
    conn.tx("s2c", inbound(S.accept(c, te=S.endpoint_bytes("203.0.113.10", 3478)), SAMPLE["callee"], sid("sample-acc"),
                           f.t), compress=True)
    conn.tx("c2s", call(S.relaylatency(c, 45, "gru1c02", "203.0.113.10"), to=SAMPLE["callee"]))
    f.t = max(f.t, SAMPLE["media_end"] + 0.2)  # media.py fills [media_start, media_end]
    conn.tx("c2s", call(S.terminate(c, duration="10", audio_duration="10"), to=SAMPLE["callee"]))
    conn.carrier.close()
    out.keylog("sample/call.keys", ["# wacall sample: signaling keys (media keys may follow)", conn.traffic_line()])
    ep = relay.endpoints[0]
    out.capture("sample/call.pcap", cap, [conn], "sample/call.keys",
                "README demo: a concise 1:1 call (caller side) with a gap for the media plane",
                call={"call_id": c.call_id, "call_creator": c.creator, "caller": SAMPLE["caller"],
                      "callee": SAMPLE["callee"], "self_pid": relay.self_pid, "peer_pid": relay.peer_pid,
                      "relay_key": relay.key_text, "hbh_key_hex": relay.hbh_key.hex(),
                      "warp_mi_tag_len": relay.warp_mi_tag_len, "relay_ip": ep.ip, "relay_port": ep.port,
                      "client_ip": SAMPLE["client"], "media_window": [SAMPLE["media_start"], SAMPLE["media_end"]]})


def main(outdir, with_media=True):
    t_start = time.time()
    wabin.selftest()
    noise.selftest()
    os.makedirs(outdir, exist_ok=True)
    out = Out(outdir)
    conn443 = make_tcp443(out)
    make_private(out)
    make_ws(out, "sig-ws.pcap", 80, "ws80")
    make_ws(out, "sig-ws-8080.pcap", 8080, "ws8080")
    make_wss(out)
    make_sample(out)
    make_v2dict(out)
    make_ik(out)
    make_badkey(out)
    make_cut(out)
    make_corrupt(out)
    make_ack_error(out)  # added last: the captures above keep their bytes
    out.manifest["captures"] += [
        {"name": "sig-nokey", "pcap": "sig-tcp443.pcap", "keylog": None, "same_frames_as": "sig-tcp443",
         "description": "sig-tcp443.pcap without any key log",
         "overrides": {"expect": "no_key"},
         "expect_note": "no frame decrypts: every transport frame shows its ciphertext and an expert item (no "
                        "key); intro, framing and handshake messages still dissect"},
        {"name": "keylog-broken", "pcap": "sig-tcp443.pcap", "keylog": "keylog-broken.txt",
         "same_frames_as": "sig-tcp443",
         "description": "sig-tcp443.pcap with a key log holding every kind of bad line plus the good ones",
         "expect_note": "every frame decodes exactly as in sig-tcp443; each bad line is reported with its line "
                        "number; duplicates that disagree concern sessions/calls absent from the capture",
         "keylog_lines": make_keylog_broken(out, conn443)},
    ]
    try:
        import media
    except ImportError:
        media = None
    if with_media and media is not None and hasattr(media, "make_captures"):
        media.make_captures(outdir, out.manifest)
        import media_opus  # media-opus.pcap: a libopus sine as WARP PT 111 (codec plugin test)
        media_opus.make(outdir, out.manifest, out.manifest.setdefault("selftests", {}))
    import midstream  # sig-midstream.pcap: sig-tcp443 cut before its intro and handshake
    midstream.make(outdir, out.manifest, out.manifest.setdefault("selftests", {}))
    import tcp_order  # the raw-TCP captures re-cut, reordered, retransmitted, lost: manifest["tcp_order"]
    tcp_order.make(outdir, out.manifest, out.manifest.setdefault("selftests", {}))
    import keyless_calls  # keyless-two-calls.pcap: calls inferred without keys (issue 15 part 2)
    keyless_calls.make(outdir, out.manifest, out.manifest.setdefault("selftests", {}))
    import negatives  # other apps' traffic on WhatsApp's ports: manifest["negatives"]
    negatives.make(outdir, out.manifest)
    n = verify.verify(outdir, out.manifest)  # read every capture back from its bytes
    print(f"make_all: verify read back {n} transport frames")
    with open(out.path("manifest.json"), "w") as f:
        json.dump(out.manifest, f, indent=1)
        f.write("\n")
    print(f"make_all: {len(out.manifest['captures'])} captures in {outdir} ({time.time() - t_start:.1f} s)")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--signaling-only"]
    if len(args) != 1:
        sys.exit("usage: make_all.py [--signaling-only] OUTDIR")
    main(args[0], with_media="--signaling-only" not in sys.argv)
