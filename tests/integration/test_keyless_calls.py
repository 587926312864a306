"""Calls inferred without keys (issue 15, parts 2 and 3): -z wacall,calls lists the calls found in
keyless relay STUN and WARP RTP, compared with the generator's model of keyless-two-calls.pcap
(two calls back to back, one with a relay switch, one moving to a peer-to-peer path); every frame
carries its call's index (wastun.call_index / warp.call_index) the same way on one pass, two
passes and random access, and the "WhatsApp Call" conversation filter selects a keyless call.
On the real 2019 capture, the call is listed with its socket, relays, peer path and streams."""
import os
import re

import pytest

from conftest import BUILD, REAL, fields, run_tool

CALL = re.compile(r"^Inferred call #(\d+)  state: signaling not decrypted$", re.M)
RELAY = re.compile(r"^  Relay (\S+)  name: (.+?)  allocations: (\d+) \((\d+) ok, (\d+) error\)  "
                   r"RTT: (?:min ([\d.]+) ms avg ([\d.]+) ms max ([\d.]+) ms \((\d+)\)|unknown)  XOR-MAPPED: (\S+)  "
                   r"XOR-RELAYED: (\S+)  relay token: (present|absent)$", re.M)
PATH = re.compile(r"^  Media path (\d+): (relay|peer-to-peer) (\S+)  ([\d.]+)-([\d.]+) s  (\d+) packets", re.M)
PEER = re.compile(r"^  Peer check (\S+)  STUN messages: (\d+)  RTT: (?:avg ([\d.]+) ms \((\d+)\)|unknown)$", re.M)
STREAM = re.compile(r"^  (0x[0-9A-F]{8}) (\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(\S+)\s+([\d.]+)\s+([\d.]+)"
                    r"\s+(\d+)\s+([\d.]+)$", re.M)


def parse(out):
    """The inferred-call blocks of -z wacall,calls: [{index, confidence, start, ..., streams}]."""
    blocks = CALL.split(out)
    calls = []
    for i in range(1, len(blocks), 2):
        text = blocks[i + 1]
        c = {"index": int(blocks[i])}
        m = re.search(r"^  Grouping \(inferred\): confidence (high|medium|low): (.+)$", text, re.M)
        c["confidence"], c["reason"] = m.groups()
        c.update(parse_details(text))
        calls.append(c)
    return calls


def parse_details(text):
    """Times, sockets, relays, peers, paths and streams of one block (an inferred call, or a keyed
    call's "On the wire" part)."""
    c = {}
    m = re.search(r"^  Start ([\d.]+) s  End ([\d.]+) s  Duration ([\d.]+) s  Frames (\d+)-(\d+)$", text, re.M)
    c["start"], c["end"], c["duration"] = map(float, m.groups()[:3])
    c["first_frame"], c["last_frame"] = map(int, m.groups()[3:])
    c["local"] = re.search(r"^  Local media socket\(s\): (.+)$", text, re.M).group(1).split(", ")
    c["p2p"] = re.search(r"^  Peer-to-peer path: (.+)$", text, re.M).group(1)
    c["relays"] = {r[0]: r[1:] for r in RELAY.findall(text)}
    c["peers"] = {p[0]: p[1:] for p in PEER.findall(text)}
    c["paths"] = [p[1:] for p in PATH.findall(text)]
    c["streams"] = {s[0]: s[1:] for s in STREAM.findall(text)}
    c["relay_names"] = {r[0]: r[1] for r in RELAY.findall(text)}
    return c


def check_against_model(g, m):
    """Every value of one parsed block against the generator's model of the call."""
    assert (g["start"], g["end"], g["duration"]) == pytest.approx((m["start"], m["end"], m["duration"]), abs=2e-6)
    assert (g["first_frame"], g["last_frame"]) == (m["first_frame"], m["last_frame"])
    assert g["local"] == m["local"]
    assert set(g["relays"]) == set(m["relays"]), g["relays"]
    for addr, r in m["relays"].items():
        _, alloc, ok, err, mn, avg, mx, n, mapped, relayed, token = g["relays"][addr]
        rt = r["rtts_ms"]
        assert (int(alloc), int(ok), int(err)) == (r["allocations"], r["ok"], r.get("errors", 0))
        assert (mn, avg, mx, int(n)) == (ms(min(rt)), ms(sum(rt) / len(rt)), ms(max(rt)), len(rt)), (addr, rt)
        assert (mapped, relayed, token) == (r["mapped"], r["relayed"], "present" if r["token"] else "absent")
    assert set(g["peers"]) == set(m["peers"])
    for addr, p in m["peers"].items():
        n_msgs, avg, n = g["peers"][addr]
        assert (int(n_msgs), avg, int(n)) == (p["messages"], ms(sum(p["rtts_ms"]) / len(p["rtts_ms"])), len(p["rtts_ms"]))
    want_paths = [("relay" if p["relay"] else "peer-to-peer", p["remote"], p["packets"]) for p in m["paths"]]
    assert [(k, r, int(n)) for k, r, _, _, n in g["paths"]] == want_paths
    for (_, _, first, last, _), p in zip(g["paths"], m["paths"]):
        assert (float(first), float(last)) == pytest.approx((p["first"], p["last"]), abs=2e-6)
    assert list(g["streams"]) == [s["ssrc_hex"] for s in m["streams"]]
    for s in m["streams"]:
        d, kind, pt, pkts, nbytes, kbps, lost, jit, first, last, gaps, longest = g["streams"][s["ssrc_hex"]]
        assert (d, kind.replace("-", " "), int(pt)) == (s["dir"], s["kind"], s["pt"])
        assert (int(pkts), int(nbytes), int(lost)) == (s["packets"], s["bytes"], s["lost"]), s["ssrc_hex"]
        assert float(kbps) == pytest.approx(s["bytes"] * 8 / (s["last"] - s["first"]) / 1e3, abs=0.051)
        assert jit == ("unknown" if s["jitter_ms"] is None else ms(s["jitter_ms"])), s["ssrc_hex"]
        assert (float(first), float(last)) == pytest.approx((s["first"], s["last"]), abs=2e-6)
        assert (int(gaps), float(longest)) == (s["gaps"], pytest.approx(s["longest_gap"], abs=1e-3))


def ms(v):
    return f"{v:.3f}"


@pytest.fixture(scope="module")
def keyless(caps):
    cap = caps["by_name"]["keyless-two-calls"]
    return cap, os.path.join(caps["dir"], cap["pcap"])


@pytest.mark.parametrize("passes", [[], ["-2"]])
def test_calls_table_equals_model(tshark, keyless, passes):
    """Every value of the report against the generator's model: calls, grouping, times, sockets,
    relays (allocations, RTT, XOR-MAPPED, relayed address, token), peer checks, media paths in
    order (relay election, switch to relay B / to the peer) and every stream's numbers."""
    cap, pcap = keyless
    out = tshark("-r", pcap, *passes, "-q", "-z", "wacall,calls").stdout
    assert "Calls inferred without keys: 2 (signaling not decrypted; grouped from relay STUN and RTP flows" in out, out
    got = parse(out)
    model = cap["inferred_calls"]
    assert [c["index"] for c in got] == [c["index"] for c in model] == [1, 2]
    for g, m in zip(got, model):
        check_against_model(g, m)
        assert set(g["relay_names"].values()) == {"unknown (not signaled without keys)"}
    # The model's scenario, spelled out: a relay switch in call 1, the peer-to-peer path in call 2.
    assert [p[0] for p in got[0]["paths"]] == ["relay", "relay"] and got[0]["p2p"] == "none seen"
    assert [p[0] for p in got[1]["paths"]] == ["relay", "peer-to-peer"]
    assert got[1]["p2p"] == "198.51.100.200:52000 (carried media)"
    assert got[0]["confidence"] == got[1]["confidence"] == "high"
    assert got[1]["reason"] == "new client media socket 192.0.2.20:41002"
    assert sum(s["gaps"] for s in model[0]["streams"]) == 1  # the 0.6 s pause of 0x1A2B3C01


@pytest.mark.parametrize("passes", [[], ["-2"]])
def test_call_index_on_every_frame(tshark, keyless, passes):
    """wastun.call_index / warp.call_index: each frame's call as the model has it, on one pass and
    on two; `warp.call_index == N || wastun.call_index == N` selects exactly call N."""
    cap, pcap = keyless
    rows = fields(tshark, pcap, ["wastun.call_index", "warp.call_index"], *passes)
    want = {int(f): c for f, c in cap["frame_calls"].items()}
    got = {f: int((s or w)[0]) if (s or w) else None for f, (s, w) in rows.items()}
    assert got == want
    for n in (1, 2):
        sel = fields(tshark, pcap, [], *passes, dfilter=f"wastun.call_index == {n} || warp.call_index == {n}")
        assert set(sel) == {f for f, c in want.items() if c == n}


def test_conversation_filter_selects_keyless_call(caps, keyless):
    """Analyze › Conversation Filter › WhatsApp Call, driven headless with random access (every
    frame dissected again, last first): offered on every frame of the keyless capture, with the
    expression of the frame's inferred call."""
    cap, pcap = keyless
    p = run_tool([pcap], tool=os.path.join(BUILD, "conv_filter_test"))
    rows = {int(f): (v, e) for f, v, e in (line.split("\t") for line in p.stdout.splitlines())}
    want = {int(f): c for f, c in cap["frame_calls"].items()}
    assert set(rows) == set(want)
    for f, c in want.items():
        assert rows[f] == ("1", f"wastun.call_index == {c} || warp.call_index == {c}"), f


@pytest.mark.skipif(not os.path.isdir(REAL), reason="real captures not available")
def test_real_2019_call_listed(tshark):
    """wa-voice-2019.pcap (no keys): one call from the phone's socket, its five relays with RTT and
    XOR-MAPPED from their Allocate responses, the peer-to-peer path that took over the media, and
    the two audio streams whose packets are those -z rtp,streams counts per SSRC."""
    pcap = os.path.join(REAL, "wa-voice-2019.pcap")
    out = tshark("-r", pcap, "-q", "-z", "wacall,calls").stdout
    calls = parse(out)
    assert len(calls) == 1, out
    c = calls[0]
    assert c["local"] == ["192.168.2.12:56328"]
    assert set(c["relays"]) == {"31.13.86.48:3478", "185.60.216.51:3478", "157.240.193.48:3478", "179.60.192.48:3478",
                                "157.240.196.62:3478"}
    assert all(r[8] == "80.180.162.48:52372" and r[10] == "present" and int(r[2]) >= 3 for r in c["relays"].values())
    assert c["p2p"].startswith("91.252.56.51:32704 (carried media)")
    assert [(k, r) for k, r, *_ in c["paths"]] == [("relay", "31.13.86.48:3478"), ("peer-to-peer", "91.252.56.51:32704")]
    rtp = tshark("-r", pcap, "-q", "-z", "rtp,streams").stdout
    per_ssrc = {}
    for m in re.finditer(r"(0x[0-9A-F]{8})\s+\S+\s+(\d+)\s+\d+ \(", rtp):
        per_ssrc[m.group(1)] = per_ssrc.get(m.group(1), 0) + int(m.group(2))
    assert {k: int(v[3]) for k, v in c["streams"].items()} == per_ssrc == {"0x87FAB2D7": 70, "0xF50386F4": 61}
    assert {k: (v[0], v[1]) for k, v in c["streams"].items()} == {"0x87FAB2D7": ("received", "audio"),
                                                                  "0xF50386F4": ("sent", "audio")}
    # Every claimed frame of the call's flows carries the index.
    assert not tshark("-r", pcap, "-Y", "(warp || wastun) && !(warp.call_index == 1 || wastun.call_index == 1)").stdout.strip()


def test_keyed_call_is_not_listed_twice(tshark, caps):
    """With the key log, media-only's call appears once (as the keyed call), not again as inferred."""
    cap = caps["by_name"]["media-only"]
    pcap = os.path.join(caps["dir"], cap["pcap"])
    keyed = tshark("-r", pcap, "-o", f"wacall.keylog_file:{os.path.join(caps['dir'], cap['keylog'])}", "-q", "-z",
                   "wacall,calls").stdout
    assert "Calls inferred without keys" not in keyed and cap["call_id"] in keyed
    keyless = tshark("-r", pcap, "-q", "-z", "wacall,calls").stdout
    assert "Calls inferred without keys: 1 " in keyless and len(parse(keyless)) == 1


@pytest.mark.parametrize("passes", [[], ["-2"]])
def test_stats_tree_and_voip_tap_list_inferred_calls(tshark, keyless, passes):
    """Statistics › WhatsApp › Calls (-z wacall_calls,tree): one node per inferred call, saying the
    grouping is inferred, its relay STUN frames and its streams' packets by direction and kind.
    Telephony › VoIP Calls (the voip tap, -z wacall,voip): each call's relay STUN frames under
    "inferred call #N", from the client's socket, the callee unknown."""
    cap, pcap = keyless
    out = tshark("-r", pcap, *passes, "-q", "-z", "wacall_calls,tree", "-z", "wacall,voip").stdout
    want_call = {int(f): c for f, c in cap["frame_calls"].items()}
    tree = {m.group(1).strip(): int(m.group(2)) for m in re.finditer(r"^\s*(\S.*?\S)\s{2,}(\d+)\s", out, re.M)}
    for c in cap["inferred_calls"]:
        n = c["index"]
        node = f"Inferred call #{n} (no keys: signaling not decrypted, grouping inferred)"
        assert tree[node] == sum(1 for v in want_call.values() if v == n), tree
        for s in c["streams"]:
            assert tree[f"{s['dir']} {s['kind']} SSRC {s['ssrc_hex']}"] == s["packets"]
    # The voip rows: frame, call-id, state, active, from, to, label.
    rows = [line.split("\t") for line in out.splitlines() if "\tinferred call #" in line]
    n_stun = sum(len(r["rtts_ms"]) * 2 for c in cap["inferred_calls"] for r in (*c["relays"].values(), *c["peers"].values()))
    assert len(rows) == n_stun
    for frame, call_id, state, active, frm, to, label in rows:
        n = want_call[int(frame)]
        assert call_id == f"inferred call #{n}" and (state, active) == ("IN CALL", "active")
        assert (frm, to) == (cap["inferred_calls"][n - 1]["local"][0], "unknown (signaling not decrypted)")


def test_media_only_calls_separated_by_client_socket(tshark, keyless, tmp_path):
    """The same capture with every relay STUN frame removed (tshark -w): no allocation to learn
    the client from, so each call's client socket is the side opposite the relay port; the two
    calls stay apart (confidence medium, said so), with the model's streams and paths, and each
    appears in VoIP Calls from the frame that started it."""
    cap, pcap = keyless
    media = str(tmp_path / "media-only.pcap")
    tshark("-r", pcap, "-Y", "!wastun", "-w", media)
    out = tshark("-r", media, "-q", "-z", "wacall,calls", "-z", "wacall,voip").stdout
    got = parse(out)
    model = cap["inferred_calls"]
    assert len(got) == 2, out
    for g, m in zip(got, model):
        assert g["confidence"] == "medium" and "media only, no relay allocation seen" in g["reason"]
        assert g["local"] == m["local"] and not g["relays"]
        assert [(k, r, int(n)) for k, r, _, _, n in g["paths"]] == \
            [("relay" if p["relay"] else "peer-to-peer", p["remote"], p["packets"]) for p in m["paths"]]
        assert {k: (v[0], int(v[3]), int(v[4]), int(v[6])) for k, v in g["streams"].items()} == \
            {s["ssrc_hex"]: (s["dir"], s["packets"], s["bytes"], s["lost"]) for s in m["streams"]}
    rows = [line.split("\t") for line in out.splitlines() if "\tinferred call #" in line]
    assert [(r[1], r[4], r[6]) for r in rows] == [("inferred call #1", "192.0.2.20:41000", "RTP (no relay STUN seen)"),
                                                  ("inferred call #2", "192.0.2.20:41002", "RTP (no relay STUN seen)")]


def test_report_filter_narrows_inferred_calls(tshark, keyless):
    """-z wacall,calls,FILTER: only the inferred calls with a frame passing the filter are listed,
    each still in full (the call's numbers, not the filtered frames')."""
    cap, pcap = keyless
    full = parse(tshark("-r", pcap, "-q", "-z", "wacall,calls").stdout)
    out = tshark("-r", pcap, "-q", "-z", "wacall,calls,warp.call_index == 2").stdout
    assert "Calls inferred without keys: 1 " in out
    assert parse(out) == [full[1]]
    assert "Calls inferred" not in tshark("-r", pcap, "-q", "-z", "wacall,calls,warp.call_index == 3").stdout


# ---- keyed calls: one entry, merged with what the wire shows (issue 15) ---------------------------

KEYED_WIRE = "  On the wire (relay STUN and RTP headers, as for calls without keys; times since the first frame):\n"


@pytest.mark.parametrize("passes", [[], ["-2"]])
def test_keyed_call_entry_carries_wire_details(tshark, caps, passes):
    """call-full.pcap with its key log: the call is listed once (no inferred call beside it) and
    its entry carries the relay (signaled name, allocations, RTT of every request/response pair,
    XOR-MAPPED, token), the media path and every stream's numbers, as the generator's model of the
    wire has them; without the key log the inferred call shows the very same details."""
    cap = caps["by_name"]["call-full"]
    pcap, keys = (os.path.join(caps["dir"], cap[k]) for k in ("pcap", "keylog"))
    out = tshark("-r", pcap, "-o", f"wacall.keylog_file:{keys}", *passes, "-q", "-z", "wacall,calls").stdout
    assert "WhatsApp calls (wacall): 1 call(s)" in out and "Calls inferred without keys" not in out, out
    assert out.count(KEYED_WIRE) == 1 and f"Call {cap['call_id']}  [Ended]" in out, out
    block = out.split(KEYED_WIRE)[1].split("\n(Gaps:")[0]
    got = parse_details(block)
    model = cap["wire_details"]
    check_against_model(got, model)
    relay = cap["relay"]
    assert got["relay_names"] == {relay: f"{model['relays'][relay]['name']} (signaled)"}
    # The model's numbers, spelled out: 20 Allocates (one refused with 401), 40 answered requests.
    r = got["relays"][relay]
    assert (r[1], r[2], r[3], r[7]) == ("20", "19", "1", "40")
    keyless = parse(tshark("-r", pcap, *passes, "-q", "-z", "wacall,calls").stdout)
    assert len(keyless) == 1
    for k in ("start", "end", "first_frame", "last_frame", "local", "relays", "peers", "paths", "streams"):
        want = {a: v[1:] for a, v in got[k].items()} if k == "relays" else got[k]
        have = {a: v[1:] for a, v in keyless[0][k].items()} if k == "relays" else keyless[0][k]
        assert have == want, k


def test_keyless_rtp_setup_frame_is_the_voip_entry(tshark, keyless):
    """Telephony › VoIP Calls links an RTP stream to the call whose flow graph holds the stream's
    setup frame (ui/voip_calls.c). Every keyless RTP packet's rtp.setup-frame is its inferred
    call's first frame, and that frame is one the "voip" tap received for that call."""
    cap, pcap = keyless
    first = {c["index"]: c["first_frame"] for c in cap["inferred_calls"]}
    rows = fields(tshark, pcap, ["rtp.setup-frame", "warp.call_index"], dfilter="rtp")
    assert len(rows) == sum(s["packets"] for c in cap["inferred_calls"] for s in c["streams"])
    for f, (setup, call) in rows.items():
        assert int(setup[0]) == first[int(call[0])], f
    voip = tshark("-r", pcap, "-q", "-z", "wacall,voip").stdout
    tapped = {int(line.split("\t")[0]): line.split("\t")[1] for line in voip.splitlines()[1:] if line}
    for n, f in first.items():
        assert tapped.get(f) == f"inferred call #{n}", (f, tapped.get(f))


def test_assumed_tag_length_shown_and_chosen(tshark, caps, keyless):
    """No key and no signaled tag length: every WARP RTP packet says its tag length is assumed
    (warp.tag_len.assumed), 4 by default; the warp.keyless_tag_len preference makes it 10 and rtp
    then shows a 10-byte SRTP tag. With the signaled length (call-full's relay block) nothing is
    assumed."""
    cap, pcap = keyless
    n_rtp = sum(s["packets"] for c in cap["inferred_calls"] for s in c["streams"])
    for pref, want in ((None, 4), ("10", 10), ("4", 4)):
        extra = ["-o", f"warp.keyless_tag_len:{pref}"] if pref else []
        rows = fields(tshark, pcap, ["warp.tag_len.assumed", "srtp.auth_tag"], *extra, dfilter="rtp")
        assert len(rows) == n_rtp
        for f, (assumed, tag) in rows.items():
            assert [int(assumed[0]), len(tag[0].replace(":", "")) // 2] == [want, want], f
    full = caps["by_name"]["call-full"]
    fpcap, keys = (os.path.join(caps["dir"], full[k]) for k in ("pcap", "keylog"))
    assert not fields(tshark, fpcap, [], "-o", f"wacall.keylog_file:{keys}", dfilter="warp.tag_len.assumed")
    assert len(fields(tshark, fpcap, [], dfilter="warp.tag_len.assumed")) == sum(
        1 for m in full["frames"] if m["kind"] == "rtp")
