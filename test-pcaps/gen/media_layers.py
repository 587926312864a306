"""Media captures for the optional key layers: the hop-by-hop (HBH) SRTP/SRTCP layer around E2E
packets, and group-call epochs (WA_CALL_EPOCH) that replace the 1:1 call key.

Independent of the plugin: E2E comes from srtp_ref.py (Python + cryptography), the HBH layer from
libsrtp itself (pylibsrtp: a plain AES_CM_128_HMAC_SHA1_80/_32 session keyed with the 30 HBH bytes
as RFC 3711 master key ‖ salt, or with the two-stage HKDF output of spec digest §3.4 version B).

  media-hbh.pcap       HBH version A (RFC 3711 on the relay's 30 bytes), MI inside the HBH layer,
                       HBH tags of 10 bytes (speech) and 4 bytes (DTX-sized payloads, REL-05),
                       SRTCP through HBH too, one packet with a forged HBH tag.
  media-hbh-hkdf.pcap  HBH version B: RTP with the shared "hbh srtp" labels, SRTCP with the
                       uplink (client→relay) / downlink labels; the MI appended after the layer.
  media-group.pcap     a group call (three participants, no call key): the first half under
                       epoch transaction-id 1, the rest under transaction-id 2 after a rekey.
"""
import os
import random
import struct

import pcapw
import srtp_ref as sr
import warp_wire as ww
from media import CLIENT, RELAY, T0_US, Trace, _write, public_meta

AUDIO = 0x00000000  # slot words: audio
PT_AUDIO = 120


def hbh_key30(hbh_key: bytes, salt_label: str, key_label: str) -> bytes:
    """Spec digest §3.4 version B: salt32 = HKDF(0^32, key[0:14], salt label), key30 = HKDF(salt32, key[14:30], key label)."""
    salt32 = sr.hkdf(b"\0" * 32, hbh_key[:14], salt_label.encode(), 32)
    return sr.hkdf(salt32, hbh_key[14:30], key_label.encode(), 30)


class HbhSender:
    """libsrtp sessions for one direction: one RTP session per tag length, one SRTCP session."""

    def __init__(self, rtp_key30: bytes, rtcp_key30: bytes):
        import pylibsrtp
        P = pylibsrtp.Policy
        self.rtp = {t: pylibsrtp.Session(P(key=rtp_key30, ssrc_type=P.SSRC_ANY_OUTBOUND, srtp_profile=prof))
                    for t, prof in ((10, P.SRTP_PROFILE_AES128_CM_SHA1_80), (4, P.SRTP_PROFILE_AES128_CM_SHA1_32))}
        self.rtcp = pylibsrtp.Session(P(key=rtcp_key30, ssrc_type=P.SSRC_ANY_OUTBOUND,
                                        srtp_profile=P.SRTP_PROFILE_AES128_CM_SHA1_80))


def _audio_payload(rng, seq):
    # REL-05: DTX-sized payloads (<= 18 bytes) carry a 4-byte HBH tag, speech a 10-byte one.
    n = 12 if seq % 5 == 4 else rng.randrange(40, 120)
    return rng.randbytes(n)


def _libsrtp_protect(session, pkt: bytes) -> bytes:
    return session.protect(pkt)


def build_hbh(outdir, manifest, name, seed, mode, placement, selftests):
    rng = random.Random(seed)
    call_id = rng.randbytes(16).hex().upper()
    call_key, hbh_key = rng.randbytes(32), rng.randbytes(30)
    jids = {"c2s": "48213377210045@lid", "s2c": "39517204881230:7@lid"}
    keys = {d: sr.SenderKeys(call_key, j) for d, j in jids.items()}
    if mode == "rfc3711":
        senders = {d: HbhSender(hbh_key, hbh_key) for d in jids}
    else:
        rtp30 = hbh_key30(hbh_key, "hbh srtp salt", "hbh srtp key")
        senders = {"c2s": HbhSender(rtp30, hbh_key30(hbh_key, "uplink hbh srtcp salt", "uplink hbh srtcp key")),
                   "s2c": HbhSender(rtp30, hbh_key30(hbh_key, "downlink hbh srtcp salt", "downlink hbh srtcp key"))}
    tag_len = 4
    trace = Trace(CLIENT, RELAY)
    forged_at = 17
    for d_i, d in enumerate(("c2s", "s2c")):
        ssrc = sr.derive_ssrc(call_id, jids[d], AUDIO)
        seq0 = rng.randrange(0, 60000)
        rtcp_index = 1
        for i in range(48):
            seq, ts = (seq0 + i) & 0xFFFF, 320 * i
            payload = _audio_payload(rng, seq)
            hbh_tag = 4 if len(payload) <= 18 else 10
            plain = ww.speech_header(PT_AUDIO, seq, ts, ssrc, i == 0) + payload
            e2e = sr.protect_rtp(keys[d].rtp, plain, 0, tag_len)
            if placement == "inside":
                wire = _libsrtp_protect(senders[d].rtp[hbh_tag], e2e)
            else:
                wire = _libsrtp_protect(senders[d].rtp[hbh_tag], e2e[:-tag_len]) + e2e[-tag_len:]
            forged = d == "c2s" and i == forged_at
            if forged:  # flip a bit of the HBH tag: never decrypted
                pos = len(wire) - 1 - (tag_len if placement == "outside" else 0)
                wire = wire[:pos] + bytes([wire[pos] ^ 0x01]) + wire[pos + 1:]
            meta = {"kind": "rtp", "ssrc": ssrc, "seq": seq, "participant": keys[d].pid, "pt": PT_AUDIO,
                    "hbh_tag_len": hbh_tag, "tag_len": tag_len, "tag_valid": not forged,
                    "expect_decrypted": not forged, "payload_hex": payload.hex(), "forged_hbh": forged}
            trace.add(T0_US + 20_000 * i + 5_000 * d_i, d, wire, meta)
            if i % 16 == 15:
                sr_pkt = ww.rtcp_sr(ssrc, 1_700_000_000_000 + 20 * i, ts, i + 1, 80 * (i + 1))
                e2e_rtcp = sr.protect_srtcp(keys[d].rtcp, sr_pkt, rtcp_index)
                wire = senders[d].rtcp.protect_rtcp(e2e_rtcp)
                trace.add(T0_US + 20_000 * i + 5_000 * d_i + 1_000, d, wire,
                          {"kind": "rtcp", "ssrc": ssrc, "srtcp_index": rtcp_index, "participant": keys[d].pid,
                           "tag_valid": True, "expect_decrypted": True, "plaintext_hex": sr_pkt.hex()})
                rtcp_index += 1
    frames, metas, _ = trace.layout()
    pcapw.write_pcap(os.path.join(outdir, f"{name}.pcap"), frames)
    _write(outdir, f"{name}.keys", "\n".join([
        f"# {name}.pcap: E2E keys plus the relay's hbh_key (WA_HBH_KEY: no signaling in this capture)",
        f"WA_CALL_KEY {call_id} {call_key.hex()}",
        f"WA_PARTICIPANT {call_id} {jids['c2s']}",
        f"WA_PARTICIPANT {call_id} {jids['s2c']}",
        f"WA_HBH_KEY {call_id} {hbh_key.hex()}"]) + "\n")
    prefs = {"warp.hbh": "rfc3711" if mode == "rfc3711" else "hkdf_directional", "warp.hbh_mi": placement}
    manifest["captures"].append({
        "name": name, "pcap": f"{name}.pcap", "keylog": f"{name}.keys", "call_id": call_id, "prefs": prefs,
        "hbh_key_hex": hbh_key.hex(), "hbh_mode": mode, "mi_placement": placement,
        "description": f"1:1 audio both ways under a hop-by-hop layer ({mode}, MI {placement}), SRTCP through HBH, "
                       "one forged HBH tag", "frames": [public_meta(m) for m in metas]})
    selftests[f"{name}.pcap"] = f"ok ({len(metas)} media frames, HBH by libsrtp)"


def build_group(outdir, manifest, selftests, seed=7117):
    rng = random.Random(seed)
    call_id = rng.randbytes(16).hex().upper()
    epochs = {1: rng.randbytes(32), 2: rng.randbytes(32)}
    self_jid = "48213377210045@lid"
    peers = ["39517204881230:7@lid", "77120044139982:0@lid"]
    trace = Trace(CLIENT, RELAY)
    senders = [("c2s", self_jid)] + [("s2c", p) for p in peers]
    n_per, rekey_at = 40, 22
    for s_i, (d, jid) in enumerate(senders):
        ssrc = sr.derive_ssrc(call_id, jid, AUDIO)
        seq0 = rng.randrange(0, 60000)
        for i in range(n_per):
            epoch = 1 if i < rekey_at else 2
            k = sr.SenderKeys(epochs[epoch], jid)  # WAHKDF with raw_epoch as the ikm (digest §4.5)
            seq = (seq0 + i) & 0xFFFF
            payload = rng.randbytes(rng.randrange(30, 100))
            plain = ww.speech_header(PT_AUDIO, seq, 320 * i, ssrc, i == 0) + payload
            wire = sr.protect_rtp(k.rtp, plain, 0, 4)
            meta = {"kind": "rtp", "ssrc": ssrc, "seq": seq, "participant": k.pid, "pt": PT_AUDIO, "epoch": epoch,
                    "tag_len": 4, "tag_valid": True, "expect_decrypted": True, "payload_hex": payload.hex()}
            trace.add(T0_US + 20_000 * i + 3_000 * s_i, d, wire, meta)
    frames, metas, _ = trace.layout()
    pcapw.write_pcap(os.path.join(outdir, "media-group.pcap"), frames)
    lines = ["# media-group.pcap: group call, two epochs (enc_rekey transaction-ids 1 and 2), no call key"]
    lines += [f"WA_CALL_EPOCH {call_id} {tx} {key.hex()}" for tx, key in epochs.items()]
    lines += [f"WA_PARTICIPANT {call_id} {j}" for _, j in senders]
    _write(outdir, "media-group.keys", "\n".join(lines) + "\n")
    _write(outdir, "media-group-epoch1.keys", "\n".join(l for l in lines if f" {call_id} 2 " not in l) + "\n")
    manifest["captures"].append({
        "name": "media-group", "pcap": "media-group.pcap", "keylog": "media-group.keys",
        "keylog_epoch1_only": "media-group-epoch1.keys", "call_id": call_id,
        "description": "group call audio from three participants; rekey from epoch 1 to epoch 2 mid-call",
        "frames": [public_meta(m) for m in metas]})
    selftests["media-group.pcap"] = f"ok ({len(metas)} media frames, 2 epochs)"


def build_midcall(outdir, manifest, selftests, seed=8228):
    """Two calls interleaved, captured mid-call (no signaling, no STUN, ROC already > 0, one stream
    wrapping again inside the capture), and call A seen from both of its devices: the same SSRCs
    and sequence numbers on two client flows."""
    rng = random.Random(seed)
    relay1, relay2 = ("198.51.100.7", 3478), ("198.51.100.8", 3480)
    calls = {}
    for name, a, b in (("A", "48213377210045@lid", "39517204881230:7@lid"), ("B", "11112222333344@lid", "55556666777788:2@lid")):
        cid = rng.randbytes(16).hex().upper()
        ck = rng.randbytes(32)
        calls[name] = {"call_id": cid, "call_key": ck, "jids": (a, b),
                       "keys": {j: sr.SenderKeys(ck, j) for j in (a, b)}}
    # (call, sender jid index, roc0, seq0, sender host, receiver hosts)
    devA1, devA2, devB1 = ("192.0.2.10", 50000), ("192.0.2.30", 50020), ("192.0.2.20", 50010)
    streams = [("A", 0, 3, 65470, devA1, relay1, [devA2]), ("A", 1, 1, 30000, devA2, relay1, [devA1]),
               ("B", 0, 0, 100, devB1, relay2, []), ("B", 1, 2, 5000, None, relay2, [devB1])]
    rows = []
    for s_i, (cname, j_i, roc0, seq0, sender, relay, receivers) in enumerate(streams):
        c = calls[cname]
        jid = c["jids"][j_i]
        k = c["keys"][jid]
        ssrc = sr.derive_ssrc(c["call_id"], jid, AUDIO)
        for i in range(60):
            idx = (roc0 << 16) + seq0 + i
            roc, seq = idx >> 16, idx & 0xFFFF
            payload = rng.randbytes(rng.randrange(30, 90))
            plain = ww.speech_header(PT_AUDIO, seq, 320 * i, ssrc, False) + payload
            wire = sr.protect_rtp(k.rtp, plain, roc, 4)
            t = T0_US + 20_000 * i + 2_500 * s_i
            meta = {"kind": "rtp", "call": cname, "call_id": c["call_id"], "ssrc": ssrc, "seq": seq, "roc": roc,
                    "participant": k.pid, "expect_decrypted": True, "payload_hex": payload.hex()}
            if sender:  # the sender's uplink
                rows.append((t, sender, relay, wire, dict(meta, leg="uplink")))
            for r_i, rcv in enumerate(receivers):  # the relay's downlink to each captured device
                rows.append((t + 900 + r_i, relay, rcv, wire, dict(meta, leg="downlink")))
    rows.sort(key=lambda r: r[0])
    frames, metas = [], []
    for n, (t, src, dst, wire, meta) in enumerate(rows, 1):
        frames.append((t / 1e6, pcapw.udp_frame(src[0], src[1], dst[0], dst[1], wire)))
        metas.append(dict(meta, frame=n, src=f"{src[0]}:{src[1]}", dst=f"{dst[0]}:{dst[1]}"))
    pcapw.write_pcap(os.path.join(outdir, "media-midcall.pcap"), frames)
    lines = ["# media-midcall.pcap: two calls, captured mid-call, call A seen from both devices"]
    for c in calls.values():
        lines.append(f"WA_CALL_KEY {c['call_id']} {c['call_key'].hex()}")
        lines += [f"WA_PARTICIPANT {c['call_id']} {j}" for j in c["jids"]]
    _write(outdir, "media-midcall.keys", "\n".join(lines) + "\n")
    manifest["captures"].append({
        "name": "media-midcall", "pcap": "media-midcall.pcap", "keylog": "media-midcall.keys",
        "calls": {n: c["call_id"] for n, c in calls.items()},
        "description": "two calls interleaved, starting mid-call (ROC 1-3, one wrap inside), call A from both devices",
        "frames": metas})
    selftests["media-midcall.pcap"] = f"ok ({len(metas)} frames)"


def make(outdir, manifest, selftests):
    try:
        import pylibsrtp  # noqa: F401
    except ImportError as e:
        selftests["media-hbh"] = f"skipped ({e})"
    else:
        build_hbh(outdir, manifest, "media-hbh", 6116, "rfc3711", "inside", selftests)
        build_hbh(outdir, manifest, "media-hbh-hkdf", 6226, "hkdf", "outside", selftests)
    build_group(outdir, manifest, selftests)
    build_midcall(outdir, manifest, selftests)
