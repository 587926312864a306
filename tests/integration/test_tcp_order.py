"""Imperfect TCP with Wireshark's default preferences (tcp.reassemble_out_of_order off): every
raw-TCP signaling capture re-cut, reordered, retransmitted and with segments lost
(test-pcaps/gen/tcp_order.py). Frames are decrypted in TCP sequence order, not capture order, so
each variant decodes exactly like its clean capture, and a truly lost segment costs only the Noise
frames it carried."""
import collections
import os
import re

import pytest

from conftest import fields

SERVER_PORTS = (443, 5222)
FIELDS = ["tcp.srcport", "tcp.dstport", "wanoise.direction", "wanoise.frame.kind", "wanoise.counter",
          "wanoise.decrypted", "wabinary.tag", "wacall.action", "wacall.call_id"]
DIRS = {"0": "c2s", "1": "s2c"}


def keyopts(caps, keylog):
    return ["-o", f"wacall.keylog_file:{os.path.join(caps['dir'], keylog)}"] if keylog else []


def decoded(tshark, caps, pcap, keylog, *extra):
    """Per connection (client port): multisets of transport frames (direction, counter, decrypted)
    and of the tags, actions and call-ids shown, over every Noise frame anywhere in the capture."""
    rows = fields(tshark, os.path.join(caps["dir"], pcap), FIELDS, *keyopts(caps, keylog), *extra,
                  dfilter="wanoise")
    out = collections.defaultdict(lambda: {k: collections.Counter() for k in ("frames", "tag", "action", "call_id")})
    for sport, dport, dirs, kinds, counters, decrypted, tags, actions, call_ids in rows.values():
        sport, dport = int(sport[0]), int(dport[0])
        d = out[dport if sport in SERVER_PORTS else sport]
        transport = [DIRS[x] for x, k in zip(dirs, kinds) if k == "2"]
        d["frames"].update(zip(transport, counters, decrypted))
        d["tag"].update(tags)
        d["action"].update(actions)
        d["call_id"].update(call_ids)
    return {k: {n: +c for n, c in v.items()} for k, v in out.items()}, rows


def minus_lost(clean, src_cap, lost):
    """The clean decode without the frames a variant lost (the generator's manifest names them)."""
    exp = {k: {n: collections.Counter(c) for n, c in v.items()} for k, v in clean.items()}
    for l in lost:
        port = int(l["client"].rsplit(":", 1)[1])
        con = next(c for c in src_cap["connections"] if c["client"] == l["client"])
        f = next(f for f in con["frames"] if f["direction"] == l["direction"] and f["counter"] == l["counter"])
        d = exp[port]
        ok = f["expect"] in ("ok", "malformed", "zlib_error")
        d["frames"][(l["direction"], str(f["counter"]), "1" if ok else "0")] -= 1
        if ok and f.get("xml"):
            d["tag"].subtract(re.findall(r"<([A-Za-z0-9_.:-]+)", f["xml"]))
        if ok and f.get("action"):
            d["action"][f["action"]] -= 1
        cid = f.get("call_id") or f.get("ack_for_call_id")
        if ok and cid:
            d["call_id"][cid] -= 1
        # an <ack> names no call: it is tied to one by the stanza id of the call it answers
        for a in con["frames"]:
            if not (ok and a.get("tag") == "ack" and a.get("ack_for_call_id") and a.get("stanza_id") == f.get("stanza_id")):
                continue
            tie = max((g for g in con["frames"] if g.get("stanza_id") == a["stanza_id"] and g.get("call_id")
                       and g["index"] < a["index"]), key=lambda g: g["index"], default=None)
            if tie is f:
                d["call_id"][a["ack_for_call_id"]] -= 1
    return {k: {n: +c for n, c in v.items()} for k, v in exp.items()}


def variants(caps, kinds=None):
    return [e for e in caps["tcp_order"]["captures"] if kinds is None or e["variant"] in kinds]


def ids(caps_entries):
    return [e["name"] for e in caps_entries]


@pytest.fixture(scope="module")
def clean(tshark, caps):
    cache = {}

    def get(name):
        if name not in cache:
            cap = caps["by_name"][name]
            cache[name] = decoded(tshark, caps, cap["pcap"], cap["keylog"])[0]
        return cache[name]
    return get


def test_variants_cover_every_raw_tcp_signaling_capture(caps):
    tcp_caps = {c["name"] for c in caps["captures"] if c.get("connections")
                and all(con["transport"] == "tcp" for con in c["connections"]) and not c.get("midstream")}
    order = caps["tcp_order"]
    assert tcp_caps - {"sig-badkey", "sig-cut"} <= set(order["sources"])
    assert {e["variant"] for e in order["captures"]} == {"split3", "pairs", "swap", "retrans", "lost", "lostmid"}
    # sig-corrupt and sig-ack-error (one stanza each way after the handshake) have no good frame to
    # lose with a good one after it (see tcp_order.py): their lost variants lose nothing
    no_loss = {"sig-corrupt", "sig-ack-error"}
    assert all(e["lost"] for e in variants(caps, ["lost", "lostmid"]) if e["source"] not in no_loss)


@pytest.mark.parametrize("kind", ["split3", "pairs", "swap", "retrans"])
def test_reordered_and_retransmitted_segments_decode_like_the_clean_capture(tshark, caps, clean, kind):
    """Same Noise frames (counter, decrypted), same stanzas, actions and call-ids per direction of
    every connection as the clean capture, for every source capture."""
    for e in variants(caps, [kind]):
        got, _ = decoded(tshark, caps, e["pcap"], e["keylog"])
        want = clean(e["source"])
        assert got == want, (e["name"], got, want)


@pytest.mark.parametrize("kind", ["lost", "lostmid"])
def test_a_lost_segment_costs_only_its_frames(tshark, caps, clean, kind):
    for e in variants(caps, [kind]):
        got, rows = decoded(tshark, caps, e["pcap"], e["keylog"])
        want = minus_lost(clean(e["source"]), caps["by_name"][e["source"]], e["lost"])
        assert got == want, (e["name"], got, want)
        # the first frame after each gap says so
        gaps = fields(tshark, os.path.join(caps["dir"], e["pcap"]), ["wanoise.counter"], *keyopts(caps, e["keylog"]),
                      dfilter="_ws.expert.message contains \"TCP bytes missing\"")
        assert len(gaps) >= (1 if e["lost"] else 0), e["name"]
        if not e["lost"]:
            assert not gaps, e["name"]


def test_sample_call_media_and_experts(tshark, caps):
    """The README sample call: decrypted RTP needs the answering device learned from the accept;
    it stays at the clean count in every variant but the lost ones, which lose no call stanza
    the media depends on. Expert items name what happened to the segments."""
    d = caps["dir"]
    cap = caps["by_name"]["sample/call"]
    keys = keyopts(caps, cap["keylog"])

    def rtp(pcap):
        return len(tshark("-r", os.path.join(d, pcap), *keys, "-Y", "warp.decrypted == 1 && rtp").stdout.splitlines())
    base = rtp(cap["pcap"])
    assert base == 310
    for e in variants(caps):
        if e["source"] == "sample/call":
            assert rtp(e["pcap"]) == base, e["name"]
    by = {e["variant"]: e for e in variants(caps) if e["source"] == "sample/call"}

    def experts(pcap):
        return tshark("-r", os.path.join(d, pcap), *keys, "-q", "-z", "expert,note").stdout
    assert "Out-of-order TCP segment" in experts(by["split3"]["pcap"])
    assert "Retransmitted TCP bytes" in experts(by["retrans"]["pcap"]) or \
        "Retransmission" in experts(by["retrans"]["pcap"])
    assert "completed after later data" in experts(by["swap"]["pcap"])


@pytest.mark.parametrize("kind", ["split3", "swap", "lostmid"])
def test_one_pass_and_two_passes_agree(tshark, caps, kind):
    """tshark -2 (and so random access in the GUI) shows every frame as the single pass does."""
    for e in variants(caps, [kind]):
        if e["source"] not in ("sample/call", "sig-tcp443", "sig-tcp5222-private"):
            continue
        pcap = os.path.join(caps["dir"], e["pcap"])
        names = ["wanoise.counter", "wanoise.decrypted", "wanoise.stream_offset", "wacall.action"]
        one = fields(tshark, pcap, names, *keyopts(caps, e["keylog"]))
        two = fields(tshark, pcap, names, "-2", *keyopts(caps, e["keylog"]))
        assert one == two, e["name"]


def test_without_a_key_the_framing_survives_too(tshark, caps):
    """No key log: nothing decrypts, but every Noise frame is still framed, in every variant, and a
    loss costs its frames only (where the stream resumes is then read from whole frames that fill
    the buffered bytes exactly)."""
    def framed(pcap):
        rows = fields(tshark, os.path.join(caps["dir"], pcap), ["wanoise.frame.length"], dfilter="wanoise")
        return sum(len(v[0]) for v in rows.values())
    for e in variants(caps):
        if e["source"] not in ("sig-tcp443", "sig-v2dict", "sample/call"):
            continue
        assert framed(e["pcap"]) == framed(caps["by_name"][e["source"]]["pcap"]) - len(e["lost"]), e["name"]
