"""call-full.pcap: one outgoing 1:1 call end to end, signaling over Noise on raw TCP 443
followed by its media on the relay the signaling names.

The captured client (self) calls the peer. Everything the media plane needs, except the
Signal-encrypted call key, comes from decrypted signaling: the participants (call-creator of
the offer, `from` of the accept), the relay `<key>` text (STUN MI key), the relay token of the
te2's token_id (0x4000 attribute of the Allocate), warp_mi_tag_len and the te2 endpoint (the
relay IP:port of the media). So the key log holds only WA_NOISE_TRAFFIC and WA_CALL_KEY.

Built on the signaling engineer's noise.py / wabin.py / signaling.py and on media.py.
"""
import os
import random

import keyless_calls
import media
import noise
import pcapw
import signaling as sg
import wabin

SERVER = ("157.240.0.53", 443)
CLIENT_TCP_PORT = 40444
SELF_JID, PEER_JID = "48213377210045:0@lid", "39517204881230:7@lid"
MEDIA_OFFSET_S = 3.2        # media starts after the accept
RELAY_NAME = "gru1c02"      # the te2's relay_name


class NoiseConn:
    """Raw-TCP Noise connection: intro + XX handshake, then one transport frame per stanza.
    Records which pcap frame completes each stanza and the facts a test expects."""

    def __init__(self, seed: str, t0: float):
        keys = [noise.derive_private(seed, r) for r in ("ce", "cs", "se", "ss")]
        self.hs = noise.xx_handshake(noise.WA_PROLOGUE_V3, *keys, noise.cert_chain(noise.pub(keys[3]), b"\x11" * 32),
                                     noise.client_payload(username=48213377210045))
        self.flow = pcapw.TcpFlow(media.CLIENT[0], CLIENT_TCP_PORT, *SERVER, t0=t0)
        self.counter = {True: 0, False: 0}
        self.stanzas = []
        self.flow.handshake()
        self._send(True, noise.WA_PROLOGUE_V3 + _frame(self.hs["client_hello"]))
        self._send(False, _frame(self.hs["server_hello"]))
        self._send(True, _frame(self.hs["client_finish"]))

    def _send(self, from_client, data):
        self.flow.send(from_client, data)
        return self.flow.last_sent[-1][1]

    def stanza(self, from_client, node, at: float):
        """Encrypts node as the next transport frame of that direction, sent at time `at`."""
        self.flow.t = max(self.flow.t, at)
        key = self.hs["k_c2s"] if from_client else self.hs["k_s2c"]
        node_bytes = wabin.encode(node)
        ct = noise.transport_encrypt(key, self.counter[from_client], wabin.pack(node_bytes))
        fr = self._send(from_client, _frame(ct))
        # facts from the DECODED node, as describe() expects (e.g. device-0 AD_JIDs read as NNN@lid)
        self.stanzas.append({"_frame": fr, "direction": "c2s" if from_client else "s2c",
                             "noise_counter": self.counter[from_client], **sg.describe(wabin.decode(node_bytes))})
        self.counter[from_client] += 1

    def close(self):
        self.flow.close()


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + payload


def signaling_and_call(t0: float):
    """Runs the signaling; returns (NoiseConn, media.Call built from the signaled values)."""
    rng = random.Random(6006)
    cid = rng.randbytes(16).hex().upper()
    call_key = rng.randbytes(32)
    relay = sg.Relay("call-full", [sg.Endpoint(media.RELAY[0], media.RELAY[1], relay_name=RELAY_NAME, token_id="0",
                                                   auth_token_id="1")])
    c = sg.Call(cid, SELF_JID)
    conn = NoiseConn("call-full", t0)
    ids = [rng.randbytes(8).hex().upper() for _ in range(4)]
    # The <enc> is Signal ciphertext the plugin cannot open: filler of a plausible size.
    offer = sg.offer(c, targets=[(PEER_JID, sg.enc(rng.randbytes(180)))], rates=(16000,))
    conn.stanza(True, sg.call(offer, to=PEER_JID, id=ids[0]), t0 + 0.5)
    conn.stanza(False, sg.ack(ids[0], type="offer", frm=PEER_JID, relay=relay.node()), t0 + 0.6)
    conn.stanza(False, sg.offer_receipt(None, ids[0], c, frm=PEER_JID), t0 + 0.8)
    conn.stanza(False, sg.call(sg.preaccept(c), frm=PEER_JID, id=ids[1], t=str(int(t0) + 1)), t0 + 1.5)
    conn.stanza(True, sg.ack(ids[1], type="preaccept", to=PEER_JID), t0 + 1.52)
    conn.stanza(False, sg.call(sg.accept(c), frm=PEER_JID, id=ids[2], t=str(int(t0) + 3)), t0 + 3.0)
    conn.stanza(True, sg.ack(ids[2], type="accept", to=PEER_JID), t0 + 3.02)
    media_end = t0 + MEDIA_OFFSET_S + media.media_duration_us(media.FULL) / 1e6
    conn.stanza(True, sg.call(sg.terminate(c, reason="hangup"), to=PEER_JID, id=ids[3]), media_end + 0.3)
    conn.stanza(False, sg.ack(ids[3], type="terminate", frm=PEER_JID), media_end + 0.35)
    conn.close()
    # token_id of the te2 selects the relay token sent in the Allocate's 0x4000 attribute.
    call = media.Call(cid, call_key, SELF_JID, PEER_JID, relay.key_text, relay.tokens[0], int(relay.warp_mi_tag_len))
    return conn, call


def verify_signaling(path, hs, stanzas):
    """Reads the written pcap back: reassembles each TCP direction, strips the intro and the
    three handshake messages, decrypts the transport frames with the key-log keys and checks
    that each decodes to the stanza the manifest describes, completed on the manifest's frame."""
    streams = {True: [], False: []}          # from_client -> [(byte offset end, frame number)]
    data = {True: b"", False: b""}
    for n, (_, fr) in enumerate(pcapw.read_pcap(path), 1):
        if fr[23] != 6:                      # IPv4 protocol byte: TCP only
            continue
        from_client = int.from_bytes(fr[34:36], "big") == CLIENT_TCP_PORT
        payload = fr[14 + 20 + 20:]
        if payload:
            data[from_client] += payload
            streams[from_client].append((len(data[from_client]), n))
    got = []
    for from_client in (True, False):
        buf, pos = data[from_client], 4 if from_client else 0
        skip = 2 if from_client else 1       # ClientHello + ClientFinish / ServerHello
        counter = 0
        while pos < len(buf):
            ln = int.from_bytes(buf[pos:pos + 3], "big")
            body, pos = buf[pos + 3:pos + 3 + ln], pos + 3 + ln
            if skip:
                skip -= 1
                continue
            key = hs["k_c2s"] if from_client else hs["k_s2c"]
            node = wabin.decode(wabin.unpack(noise.transport_decrypt(key, counter, body)))
            frame = next(n for end, n in streams[from_client] if end >= pos)
            got.append(dict(sg.describe(node), direction="c2s" if from_client else "s2c",
                            noise_counter=counter, frame=frame))
            counter += 1
    key = lambda s: s["frame"]
    assert sorted(got, key=key) == sorted(stanzas, key=key), "call-full signaling does not read back"
    return f"ok ({len(got)} stanzas decrypt and decode)"


def make(outdir, manifest, selftests):
    t0 = media.T0_US / 1e6 + 1000.0
    conn, call = signaling_and_call(t0)
    metas, streams, extra_numbers = media.write_media_capture(
        outdir, "call-full.pcap", call, 7007, selftests, extra_frames=conn.flow.frames,
        t_base_us=round((t0 + MEDIA_OFFSET_S) * 1e6))
    number = {id(fr): n for fr, n in zip(conn.flow.frames, extra_numbers)}
    stanzas = [dict({k: v for k, v in s.items() if k != "_frame"}, frame=number[id(s["_frame"])])
               for s in conn.stanzas]
    hs = conn.hs
    selftests["call-full.pcap: signaling read-back"] = verify_signaling(os.path.join(outdir, "call-full.pcap"),
                                                                        hs, stanzas)
    # What the wire shows of the call (relay STUN and RTP), for its merged entry in -z wacall,calls:
    # times from the capture's first frame, the relay's signaled name and the XOR-MAPPED address
    # the Allocate Success carries (the client's own socket: no NAT in this capture).
    t_first_us = round(pcapw.read_pcap(os.path.join(outdir, "call-full.pcap"))[0][0] * 1e6)
    # bytes: the RTP packet, without the group envelope some datagrams carry in front of it.
    rows = [dict(m, t_us=m["time_us"], bytes=m["udp_len"] - (m.get("envelope_len") or 0))
            for m in metas if m["kind"] in ("stun", "rtp")]
    relay, client = f"{media.RELAY[0]}:{media.RELAY[1]}", f"{call.client[0]}:{call.client[1]}"
    wire = keyless_calls.wire_details(rows, client, t_first_us, {relay: RELAY_NAME},
                                      {relay: client})
    media._write(outdir, "call-full.keys", "\n".join([
        "# call-full.pcap: signaling over Noise (raw TCP 443) then the media of the same call.",
        "# Participants, relay key, relay token and warp_mi_tag_len come from the decrypted signaling;",
        "# only the Signal-encrypted call key is given here.",
        f"WA_NOISE_TRAFFIC {hs['ce_pub'].hex()} {hs['k_c2s'].hex()} {hs['k_s2c'].hex()}",
        f"WA_CALL_KEY {call.call_id} {call.call_key.hex()}", ""]))
    manifest["captures"].append(media.capture_entry(
        "call-full", "call-full.pcap", "call-full.keys", call,
        "outgoing 1:1 call: Noise XX on raw TCP 443 (offer, offer ack with <relay>, receipt, preaccept, accept, "
        "terminate) then the media on the signaled relay, as in media-only",
        metas, streams, signaling=stanzas,
        noise={"client_ephemeral_public": hs["ce_pub"].hex(), "tcp": f"{media.CLIENT[0]}:{CLIENT_TCP_PORT}",
               "server": f"{SERVER[0]}:{SERVER[1]}"}, wire_details=wire))
