"""The media plane end to end: relay STUN verified, WARP RTP/RTCP decrypted to exactly the
generator's plaintext, forged packets never shown as decrypted, Wireshark's RTP tools fed."""
import base64
import json
import os
import random
import re
import subprocess
import sys

import pytest

from conftest import REAL, ROOT, fields

MEDIA = ["media-only", "media-tag10", "call-full", "sample/call"]


def pcap_and_keys(caps, name):
    cap = caps["by_name"][name]
    base = caps["by_name"][cap["same_frames_as"]] if cap.get("same_frames_as") else cap
    d = caps["dir"]
    keys = ["-o", f"wacall.keylog_file:{os.path.join(d, cap['keylog'])}"] if cap.get("keylog") else []
    return cap, base, os.path.join(d, base["pcap"]), keys


def media_frames(base):
    return [f for f in base.get("frames", []) if f.get("kind") in ("rtp", "rtcp", "stun")]


@pytest.mark.parametrize("name", MEDIA)
def test_decrypted_payload_equals_generator_plaintext(tshark, caps, name):
    cap, base, pcap, keys = pcap_and_keys(caps, name)
    rows = fields(tshark, pcap, ["warp.decrypted", "warp.participant", "warp.call_id", "rtp.payload", "rtp.seq"],
                  *keys, dfilter="warp")
    n_good = n_bad = 0
    for f in media_frames(base):
        if f["kind"] != "rtp":
            continue
        row = rows.get(f["frame"])
        assert row is not None, f"frame {f['frame']} not claimed by warp"
        decrypted, participant, call_id, payload, seq = row
        assert f["participant"] in participant
        if f["expect_decrypted"]:
            assert decrypted == ["1"], f
            got = payload[0].replace(":", "") if payload else ""
            assert got == f["payload_hex"], (f["frame"], got[:40], f["payload_hex"][:40])
            assert seq == [str(f["seq"])]
            n_good += 1
        else:
            assert decrypted == ["0"] and not payload, f
            n_bad += 1
    assert n_good > 10


def test_forged_packets_never_decrypted_and_flagged(tshark, caps):
    cap, base, pcap, keys = pcap_and_keys(caps, "media-only")
    forged = [f["frame"] for f in media_frames(base) if f["kind"] in ("rtp", "rtcp") and not f.get("tag_valid", True)]
    assert forged
    rows = fields(tshark, pcap, ["warp.auth.status", "warp.decrypted"], *keys, dfilter="warp")
    for fr in forged:
        status, decrypted = rows[fr]
        assert status == ["0"] and decrypted == ["0"], (fr, rows[fr])


def test_rtp_header_shown_once(tshark, caps):
    """The header is rtp's (rtp.ssrc/rtp.seq), not repeated in WARP: decrypted, and left encrypted
    (forged tag), where rtp shows it as SRTP (issue 15)."""
    cap, base, pcap, keys = pcap_and_keys(caps, "media-only")
    rows = fields(tshark, pcap, ["warp.decrypted", "warp.ssrc", "warp.seq", "rtp.ssrc", "rtp.seq"], *keys, dfilter="warp")
    n_dec = n_enc = 0
    for f in media_frames(base):
        if f["kind"] != "rtp":
            continue
        decrypted, wssrc, wseq, rssrc, rseq = rows[f["frame"]]
        if decrypted == ["1"]:
            assert not wssrc and not wseq and rseq == [str(f["seq"])] and rssrc
            n_dec += 1
        else:
            assert not wssrc and not wseq and rseq == [str(f["seq"])] and rssrc
            n_enc += 1
    assert n_dec > 100 and n_enc >= 1


def test_wrong_call_key_decrypts_nothing(tshark, caps):
    cap, base, pcap, keys = pcap_and_keys(caps, "media-wrongkey")
    out = tshark("-r", pcap, *keys, "-Y", "warp.decrypted == 1 || rtp.payload").stdout
    assert not out.strip()
    # The streams are still listed from their clear headers, as SRTP (issue 15); nothing decrypted.
    assert not tshark("-r", pcap, *keys, "-Y", "rtp && !srtp.enc_payload").stdout.strip()


def test_json_keylog_works_like_text_lines(tshark, caps):
    cap, base, pcap, keys = pcap_and_keys(caps, "media-json")
    good = sum(1 for f in media_frames(base) if f["kind"] == "rtp" and f["expect_decrypted"])
    out = tshark("-r", pcap, *keys, "-Y", "warp.decrypted == 1 && rtp").stdout
    assert len(out.strip().splitlines()) == good


@pytest.mark.parametrize("name", ["media-only", "sample/call"])
def test_rtp_streams_counts(tshark, caps, name):
    cap, base, pcap, keys = pcap_and_keys(caps, name)
    out = tshark("-r", pcap, *keys, "-q", "-z", "rtp,streams").stdout
    for s in base["streams"]:
        m = re.search(rf"{s['ssrc_hex']}\s+\S+\s+(\d+)\s+(-?\d+)", out, re.I)
        assert m, (s["ssrc_hex"], out)
        # Every header counts, decrypted or not: a forged packet reaches rtp as SRTP (issue 15).
        assert int(m.group(1)) == s["packets_all_headers"], (s, m.group(0))
        assert int(m.group(2)) == s["lost_all_headers"], (s, m.group(0))


def test_stun_integrity_and_fingerprint_status(tshark, caps):
    cap, base, pcap, keys = pcap_and_keys(caps, "media-only")
    rows = fields(tshark, pcap, ["wastun.type", "wastun.integrity.status", "wastun.fingerprint.status"], *keys,
                  dfilter="wastun")
    conv = {"good": "1", "bad": "0"}
    checked = 0
    for f in media_frames(base):
        if f["kind"] != "stun":
            continue
        t, mi, fp = rows[f["frame"]]
        assert int(t[0], 0) == f["stun_type"]
        if f["integrity"] in conv:
            assert mi == [conv[f["integrity"]]], f
            checked += 1
        if f["fingerprint"] in conv:
            assert fp == [conv[f["fingerprint"]]], f
            checked += 1
    assert checked > 20


def test_srtcp_decrypted_to_generator_plaintext(tshark, caps):
    cap, base, pcap, keys = pcap_and_keys(caps, "media-only")
    rows = fields(tshark, pcap, ["warp.decrypted", "warp.srtcp.index"], *keys, dfilter="warp.rtcp.pt")
    n = 0
    for f in media_frames(base):
        if f["kind"] != "rtcp":
            continue
        decrypted, index = rows[f["frame"]]
        assert decrypted == (["1"] if f.get("tag_valid", True) else ["0"]), f
        n += 1
    assert n > 10


def test_srtp_details_preference(tshark, caps):
    """Off (default): a decrypted packet carries no slot, ROC or tag item, and the auth.status
    item spans the tag bytes; a forged packet still shows its slot and tag. On: every decrypted
    packet shows the generator's slot, ROC and tag bytes."""
    cap, base, pcap, keys = pcap_and_keys(caps, "media-only")
    names = ["warp.decrypted", "warp.slot", "warp.roc", "warp.auth.tag", "frame.len"]
    off = fields(tshark, pcap, names, *keys, dfilter="warp")
    on = fields(tshark, pcap, names, *keys, "-o", "warp.srtp_details:TRUE", dfilter="warp")
    raw = fields(tshark, pcap, ["udp.payload"], dfilter="udp")
    rtp = [f for f in media_frames(base) if f["kind"] == "rtp"]
    n_good = n_forged = 0
    for f in rtp:
        dec, slot, roc, tag, _ = off[f["frame"]]
        payload = raw[f["frame"]][0][0].replace(":", "")
        wire_tag = payload[-2 * f["tag_len"]:]
        if f["expect_decrypted"]:
            assert dec == ["1"] and not slot and not roc and not tag, f["frame"]
            dec, slot, roc, tag, _ = on[f["frame"]]
            assert dec == ["1"] and slot == [str(f["slot_word"])] and roc == [str(f["roc"])], f["frame"]
            assert tag[0].replace(":", "") == wire_tag
            n_good += 1
        elif f.get("forged"):
            assert dec == ["0"] and slot == [str(f["slot_word"])] and tag[0].replace(":", "") == wire_tag
            n_forged += 1
    assert n_good > 100 and n_forged > 0 and {f["roc"] for f in rtp if f["expect_decrypted"]} == {0, 1}
    # The status item is where the tag is: PDML gives its position and size.
    pdml = tshark("-r", pcap, *keys, "-T", "pdml", "-c", "9").stdout
    frame9 = pdml[pdml.rfind("<packet>"):]
    m = re.search(r'<field name="warp.auth.status"[^>]* size="(\d+)" pos="(\d+)"', frame9)
    f9 = next(f for f in rtp if f["frame"] == 9)
    frame_len = int(off[9][4][0])
    assert m and int(m.group(1)) == f9["tag_len"] and int(m.group(2)) == frame_len - f9["tag_len"]


def test_non_whatsapp_udp_is_not_claimed(tshark, caps):
    cap, base, pcap, keys = pcap_and_keys(caps, "media-nonwa")
    assert not tshark("-r", pcap, "-Y", "warp || wastun").stdout.strip()


def test_two_passes_match_one_pass(tshark, caps):
    cap, base, pcap, keys = pcap_and_keys(caps, "media-only")
    args = ["-r", pcap, *keys, "-o", "warp.srtp_details:TRUE", "-T", "fields", "-e", "frame.number", "-e",
            "warp.decrypted", "-e", "warp.roc",
            "-e", "rtp.payload", "-e", "wastun.integrity.status"]
    assert tshark(*args).stdout == tshark("-2", *args).stdout


@pytest.mark.parametrize("name", ["media-only", "call-full"])
def test_large_key_log_attributes_and_decrypts_the_same(tshark, caps, name, tmp_path):
    """3,000 other calls in the key log (27,000 SSRCs derived when an SSRC is not in the
    signaling) change nothing: same attribution, same plaintext, frame for frame."""
    cap, base, pcap, keys = pcap_and_keys(caps, name)
    big = tmp_path / "big.keys"
    with open(keys[1].split(":", 1)[1]) as f:
        own = f.read()
    rng = random.Random(7)
    with open(big, "w") as f:
        for i in range(3000):
            call = "%032X" % rng.getrandbits(128)
            f.write(f"WA_CALL_KEY {call} {rng.getrandbits(256):064x}\n")
            f.write(f"WA_PARTICIPANT {call} {rng.randrange(10**14, 10**15)}:0@lid\n")
            f.write(f"WA_PARTICIPANT {call} {rng.randrange(10**10, 10**11)}@s.whatsapp.net\n")
        f.write(own)
    args = ["-T", "fields", "-e", "frame.number", "-e", "warp.decrypted", "-e", "warp.call_id", "-e",
            "warp.participant", "-e", "rtp.payload", "-Y", "warp"]
    small_out = tshark("-r", pcap, *keys, *args).stdout
    big_out = tshark("-r", pcap, "-o", f"wacall.keylog_file:{big}", *args).stdout
    assert small_out.count("\t1\t") + small_out.count("\tTrue\t") > 100  # 4.0: 1; 4.2 and later: True
    assert big_out == small_out
    assert tshark("-2", "-r", pcap, "-o", f"wacall.keylog_file:{big}", *args).stdout == small_out


@pytest.fixture(scope="module")
def collision(tmp_path_factory):
    out = tmp_path_factory.mktemp("collision")
    subprocess.run([sys.executable, os.path.join(ROOT, "test-pcaps", "gen", "make_collision.py"), str(out)],
                   check=True, capture_output=True, timeout=120)
    with open(out / "collision.json") as f:
        return out, json.load(f)


@pytest.mark.parametrize("keylog", ["collision.keys", "collision-rev.keys"])
@pytest.mark.parametrize("two_pass", [False, True])
def test_two_senders_with_one_ssrc_both_decrypt(tshark, collision, keylog, two_pass):
    """Two calls whose callers derive the same SSRC (as a few pairs do in a 10,000-call key
    log): each RTP and SRTCP packet is attributed to the sender whose keys authenticate it, in
    either key-log order, and shows that sender's plaintext; a STUN Allocate goes to the call its
    unshared SSRCs name."""
    out, truth = collision
    extra = ["-o", f"wacall.keylog_file:{out / keylog}"] + (["-2"] if two_pass else [])
    rows = fields(tshark, str(out / "collision.pcap"),
                  ["warp.decrypted", "warp.call_id", "warp.participant", "rtp.ssrc", "rtp.payload",
                   "rtcp.senderssrc", "rtcp.sender.packetcount", "wastun.call_id"], *extra, dfilter="warp || wastun")
    shared = {"stun": 0, "rtp": 0, "rtcp": 0}
    for f in truth["frames"]:
        decrypted, call_id, participant, ssrc, payload, rtcp_ssrc, rtcp_count, stun_call = rows[f["frame"]]
        if f["kind"] == "stun":  # its descriptors name the shared SSRC first: the others decide
            assert stun_call == [f["call_id"]], f["frame"]
            shared["stun"] += 1
            continue
        assert decrypted == ["1"], f["frame"]
        assert call_id == [f["call_id"]] and participant[0].split(":")[0] == f["sender"].split("@")[0].split(":")[0]
        if f["kind"] == "rtp":
            assert int(ssrc[0], 16) == f["ssrc"] and payload[0].replace(":", "") == f["payload_hex"]
        else:  # the report's packet count tells which caller's key decrypted it
            assert int(rtcp_ssrc[0], 16) == f["ssrc"] and rtcp_count == [str(f["packet_count"])]
        shared[f["kind"]] += f["ssrc"] == truth["shared_ssrc"]
    assert shared == {"stun": 2, "rtp": 200, "rtcp": 6}


def test_random_access_gives_same_plaintext(tshark, sharkd, caps):
    cap, base, pcap, keys = pcap_and_keys(caps, "media-only")
    good = [f for f in media_frames(base) if f["kind"] == "rtp" and f["expect_decrypted"]]
    pick = [good[-1], good[len(good) // 2], good[3]]
    kl = keys[1].split(":", 1)[1]
    reqs = [{"jsonrpc": "2.0", "id": 1, "method": "setconf", "params": {"name": "wacall.keylog_file", "value": kl}},
            {"jsonrpc": "2.0", "id": 2, "method": "load", "params": {"file": pcap}}]
    reqs += [{"jsonrpc": "2.0", "id": 10 + i, "method": "frame", "params": {"frame": f["frame"], "proto": True, "bytes": True}}
             for i, f in enumerate(pick)]
    out = sharkd(reqs)
    for i, f in enumerate(pick):
        res = out[10 + i]["result"]
        ds = [d for d in res.get("ds", []) if d["name"].startswith("Decrypted RTP")]
        assert ds, res.get("ds")
        plain = base64.b64decode(ds[0]["bytes"]).hex()
        assert plain.endswith(f["payload_hex"]), f["frame"]


REAL_CALL_FLOWS = "udp.port == 56328 && !icmp"


@pytest.mark.skipif(not os.path.isdir(REAL), reason="real captures not available")
def test_real_2019_call_flows_all_claimed_none_malformed(tshark):
    pcap = os.path.join(REAL, "wa-voice-2019.pcap")
    total = tshark("-r", pcap, "-Y", REAL_CALL_FLOWS).stdout.strip().splitlines()
    claimed = tshark("-r", pcap, "-Y", f"({REAL_CALL_FLOWS}) && (warp || wastun)").stdout.strip().splitlines()
    assert total and len(claimed) == len(total)
    assert not tshark("-r", pcap, "-Y", "_ws.malformed || _ws.expert.severity == error").stdout.strip()


@pytest.mark.skipif(not os.path.isdir(REAL), reason="real captures not available")
def test_real_signal_call_is_not_claimed(tshark):
    pcap = os.path.join(REAL, "signal-call-2022.pcap")
    assert not tshark("-r", pcap, "-Y", "warp || wastun || wanoise || wabinary || wacall").stdout.strip()


@pytest.mark.skipif(not os.path.isdir(REAL), reason="real captures not available")
def test_real_tcp_sessions_show_intro_and_handshake(tshark):
    for name in ("wa-tcp-edge-2022.pcap", "wa-voice-2019.pcap"):
        pcap = os.path.join(REAL, name)
        intros = tshark("-r", pcap, "-Y", "wanoise.intro.magic").stdout.strip().splitlines()
        hs = tshark("-r", pcap, "-Y", "wanoise.handshake.type").stdout.strip().splitlines()
        assert intros and hs, name
        assert not tshark("-r", pcap, "-Y", "wanoise && _ws.malformed").stdout.strip(), name
