"""Calls at a glance: `-z wacall,calls` (report), `-z wacall_calls,tree` (stats tree), the voip
tap feeding Telephony › VoIP Calls (`-z wacall,voip` listens to the same tap), RTP streams linked
to the offer, and the conversation filter that selects a whole call."""
import os
import re

import pytest

from conftest import BUILD, fields, run_tool


def load(caps, name):
    cap = caps["by_name"][name]
    d = caps["dir"]
    return cap, os.path.join(d, cap["pcap"]), ["-o", f"wacall.keylog_file:{os.path.join(d, cap['keylog'])}"]


def expected_streams(cap):
    """Per SSRC from the generator's frames: packets, RFC 3550 loss (extended seq), decrypted, forged."""
    out = {}
    for f in cap["frames"]:
        if f["kind"] != "rtp":
            continue
        s = out.setdefault(f["ssrc"], {"seqs": [], "dec": 0, "bad": 0, "participant": f["participant"]})
        s["seqs"].append(f["roc"] << 16 | f["seq"])
        s["dec"] += f["expect_decrypted"]
        s["bad"] += not f["tag_valid"]
    for s in out.values():
        s["packets"] = len(s["seqs"])
        s["lost"] = max(0, max(s["seqs"]) - min(s["seqs"]) + 1 - s["packets"])
    return out


def report_rows(text):
    rows = {}
    for m in re.finditer(r"^\s+0x([0-9A-F]{8}) (\S+)\s+(.+?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", text, re.M):
        rows[int(m.group(1), 16)] = dict(participant=m.group(2), slot=m.group(3), packets=int(m.group(4)),
                                         lost=int(m.group(5)), dec=int(m.group(6)), bad=int(m.group(7)),
                                         rtcp=int(m.group(8)), rtcp_ok=int(m.group(9)))
    return rows


def test_calls_report_matches_generator(tshark, caps):
    cap, pcap, keys = load(caps, "call-full")
    out = tshark("-r", pcap, *keys, "-q", "-z", "wacall,calls").stdout
    sig = {s["action"]: s for s in cap["signaling"] if s.get("tag") == "call"}
    assert f"Call {cap['call_id']}  [Ended] audio" in out, out
    assert f"Offer:            " in out and f"(frame {sig['offer']['frame']})" in out
    assert f"(frame {sig['accept']['frame']})" in out and f"(frame {sig['terminate']['frame']})" in out
    callee = cap["participants"]["s2c"]["participant"]
    assert f"Answered by:      {callee}" in out
    assert re.search(r"Duration:\s+\d+\.\d{3} s", out)
    # The offer's direction on the capturing client's Noise connection says which end captured.
    side = {"c2s": "the caller's side", "s2c": "the callee's side"}[sig["offer"]["direction"]]
    assert f"Captured on:      {side}" in out, out
    rows = report_rows(out)
    want = expected_streams(cap)
    rtcp = {}
    for f in cap["frames"]:
        if f["kind"] == "rtcp":
            r = rtcp.setdefault(f["ssrc"], [0, 0])
            r[0] += 1
            r[1] += f["tag_valid"]
    assert set(rows) == set(want), (rows.keys(), want.keys())
    for ssrc, w in want.items():
        r = rows[ssrc]
        assert (r["participant"], r["packets"], r["lost"], r["dec"], r["bad"]) == \
            (w["participant"], w["packets"], w["lost"], w["dec"], w["bad"]), (hex(ssrc), r, w)
        assert [r["rtcp"], r["rtcp_ok"]] == rtcp.get(ssrc, [0, 0]), hex(ssrc)
    # Two passes print the same report.
    assert tshark("-r", pcap, *keys, "-2", "-q", "-z", "wacall,calls").stdout == out


def test_calls_report_media_only_and_wrong_key(tshark, caps):
    cap, pcap, keys = load(caps, "media-only")
    out = tshark("-r", pcap, *keys, "-q", "-z", "wacall,calls").stdout
    assert f"Call {cap['call_id']}  [media only" in out
    want = expected_streams(cap)
    rows = report_rows(out)
    assert {s: (r["packets"], r["dec"]) for s, r in rows.items()} == {s: (w["packets"], w["dec"]) for s, w in want.items()}
    wrong = ["-o", f"wacall.keylog_file:{os.path.join(caps['dir'], caps['by_name']['media-wrongkey']['keylog'])}"]
    rows = report_rows(tshark("-r", pcap, *wrong, "-q", "-z", "wacall,calls").stdout)
    assert rows and all(r["dec"] == 0 and r["bad"] == r["packets"] for r in rows.values())


def test_stats_tree_counts(tshark, caps):
    cap, pcap, keys = load(caps, "call-full")
    out = tshark("-r", pcap, *keys, "-q", "-z", "wacall_calls,tree").stdout
    assert f"Call {cap['call_id']}" in out
    n_offer = sum(1 for s in cap["signaling"] if s.get("action") == "offer")
    assert re.search(rf"^\s+offer\s+{n_offer}\s", out, re.M), out
    n_rtp = sum(1 for f in cap["frames"] if f["kind"] == "rtp")
    n_rtcp = sum(1 for f in cap["frames"] if f["kind"] == "rtcp")
    assert re.search(rf"^\s+Media packets\s+{n_rtp + n_rtcp}\s", out, re.M), out


def test_voip_tap_states_follow_the_call(tshark, caps):
    cap, pcap, keys = load(caps, "call-full")
    out = tshark("-r", pcap, *keys, "-q", "-z", "wacall,voip").stdout.splitlines()
    rows = [l.split("\t") for l in out[1:] if l.strip()]
    by_frame = {int(r[0]): r for r in rows}
    state_of = {"offer": "CALL SETUP", "accept": "IN CALL", "terminate": "COMPLETED"}
    for s in cap["signaling"]:
        if s.get("action") in state_of:
            r = by_frame[s["frame"]]
            assert r[1] == cap["call_id"] and r[2] == state_of[s["action"]] and r[6] == s["action"], r
    assert all(r[4] and r[5] for r in rows)  # from / to identities
    assert rows[-1][3] == "inactive" and rows[0][3] == "active"
    # Both passes give the same per-frame states.
    assert tshark("-r", pcap, *keys, "-2", "-q", "-z", "wacall,voip").stdout.splitlines() == out


def test_rtp_streams_link_to_the_offer(tshark, caps):
    cap, pcap, keys = load(caps, "call-full")
    offer = next(s["frame"] for s in cap["signaling"] if s.get("action") == "offer")
    rows = fields(tshark, pcap, ["rtp.setup-frame", "rtp.setup-method"], *keys, dfilter="rtp")
    assert rows and all(v[0] == [str(offer)] and v[1] == ["WACALL"] for v in rows.values())


def test_conversation_filter_selects_the_whole_call(tshark, caps):
    """The conversation filter's expression selects every frame of the call: signaling (each
    stanza frame), relay STUN and media; nothing else in the capture."""
    cap, pcap, keys = load(caps, "call-full")
    cid = cap["call_id"]
    expr = f'wacall.call_id == "{cid}" || wastun.call_id == "{cid}" || warp.call_id == "{cid}"'
    got = set(fields(tshark, pcap, [], *keys, dfilter=expr))
    want = {s["frame"] for s in cap["signaling"] if s.get("frame")}
    want |= {f["frame"] for f in cap["frames"] if f["kind"] in ("rtp", "rtcp", "stun")}
    assert got == want, (sorted(want - got)[:10], sorted(got - want)[:10])


@pytest.mark.parametrize("name", ["call-full", "sample/call"])
def test_conversation_filter_offered_on_every_frame_of_the_call(caps, name):
    """What the GUI does on Analyze › Conversation Filter › WhatsApp Call, driven headless
    (tests/epan/conv_filter_test: libwireshark with the plugin, a first pass, then every frame
    dissected again as when selected, last first): the filter is offered on exactly the call's
    frames (signaling, relay STUN, RTP, RTCP) and builds the expression that selects the call."""
    cap, pcap, keys = load(caps, name)
    p = run_tool([pcap, keys[1]], tool=os.path.join(BUILD, "conv_filter_test"))
    rows = {int(f): (v, e) for f, v, e in (line.split("\t") for line in p.stdout.splitlines())}
    assert len(rows) == max(rows) and min(rows) == 1  # one line per frame of the capture
    cid = cap["call_id"] if "call_id" in cap else cap["call"]["call_id"]
    expr = f'wacall.call_id == "{cid}" || wastun.call_id == "{cid}" || warp.call_id == "{cid}"'
    want = {s["frame"] for s in cap.get("signaling", []) if s.get("frame")}
    want |= {m["pcap_frame"] for c in cap.get("connections", []) for m in c["frames"]
             if cid in (m.get("call_id"), m.get("ack_for_call_id"))}
    want |= {f["frame"] for f in cap["frames"] if f["kind"] in ("rtp", "rtcp", "stun")}
    offered = {f for f, (v, _) in rows.items() if v == "1"}
    assert offered == want, (sorted(want - offered)[:10], sorted(offered - want)[:10])
    assert {rows[f][1] for f in offered} == {expr}
    assert sum(1 for f in cap["frames"] if f["kind"] == "rtp") > 100
