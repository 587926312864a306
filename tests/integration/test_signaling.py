"""The signaling plane end to end: every transport frame the generator wrote is decrypted and
decoded to the same action, call-id and values, on raw TCP, WebSocket and WebSocket-in-TLS."""
import os
import re

import pytest

from conftest import ROOT, fields

SIG = ["sig-tcp443", "sig-tcp5222-private", "sig-v2dict", "sig-ws", "sig-ws-8080", "sig-wss", "sig-ik"]


def keyopts(caps, cap):
    d = caps["dir"]
    opts = ["-o", f"wacall.keylog_file:{os.path.join(d, cap['keylog'])}"]
    if cap.get("tls_keylog"):
        opts += ["-o", f"tls.keylog_file:{os.path.join(d, cap['tls_keylog'])}"]
    return opts


def ok_frames(cap):
    for con in cap["connections"]:
        for f in con["frames"]:
            if f.get("expect", "ok") == "ok":
                yield con, f


def test_plugin_is_the_fresh_build(tshark):
    out = tshark("-G", "plugins").stdout
    m = re.search(r"^wacall\.so\s+\S+\s+dissector\s+(\S+)", out, re.M)
    assert m, out
    assert m.group(1).startswith(os.path.realpath(os.environ.get("WACALL_BUILD_DIR", os.path.join(ROOT, "build"))))


@pytest.mark.parametrize("name", SIG)
def test_every_frame_decrypts_to_the_generated_stanza(tshark, caps, name):
    cap = caps["by_name"][name]
    pcap = os.path.join(caps["dir"], cap["pcap"])
    rows = fields(tshark, pcap, ["wanoise.counter", "wanoise.decrypted", "wabinary.tag", "wacall.action",
                                 "wacall.call_id"], *keyopts(caps, cap), dfilter="wanoise")
    expected = list(ok_frames(cap))
    assert expected
    for con, f in expected:
        row = rows.get(f["pcap_frame"])
        assert row is not None, f"frame {f['pcap_frame']} not dissected as wanoise"
        counters, decrypted, tags, actions, call_ids = row
        assert str(f["counter"]) in counters
        assert "1" in decrypted
        assert f["tag"] in tags
        if f.get("action"):
            assert f["action"] in actions, (f["pcap_frame"], f["action"], actions)
        cid = f.get("call_id") or f.get("ack_for_call_id")
        if cid:
            assert cid in call_ids, (f["pcap_frame"], cid, call_ids)
    # No frame failed authentication in a good capture.
    assert not tshark("-r", pcap, *keyopts(caps, cap), "-Y", "_ws.expert.group == \"Decryption\"").stdout.strip()


@pytest.mark.parametrize("name", ["sig-tcp443", "sig-tcp5222-private", "sig-v2dict"])
def test_decoded_values(tshark, caps, name):
    cap = caps["by_name"][name]
    pcap = os.path.join(caps["dir"], cap["pcap"])
    rows = fields(tshark, pcap, ["wacall.te.ip", "wacall.te.ipv6", "wacall.te.port", "wacall.relaylatency.rtt_ms",
                                 "wacall.enc.type", "wacall.enc.jid", "wacall.relay.key", "wacall.relay.hbh_key"],
                  *keyopts(caps, cap), dfilter="wacall")
    checked = 0
    for con, f in ok_frames(cap):
        row = rows.get(f["pcap_frame"])
        if row is None:
            continue
        ips, ip6s, ports, rtts, etypes, ejids, rkeys, hbhs = row
        for te in f.get("te", []):
            assert str(te["port"]) in ports
            assert te["ip"] in ips or any(te["ip"].lower() == x.lower() for x in ip6s)
            checked += 1
        for rtt in f.get("relaylatency_rtt_ms") or []:
            assert str(rtt) in rtts
            checked += 1
        for e in f.get("enc", []):
            assert e["type"] in etypes
            if e.get("jid"):
                assert e["jid"] in ejids
            checked += 1
        relay = f.get("relay") or {}
        if relay.get("key"):
            assert relay["key"] in rkeys
            checked += 1
        if relay.get("hbh_key_hex"):
            assert relay["hbh_key_hex"] in [h.replace(":", "") for h in hbhs]
            checked += 1
    assert checked > 0


def test_handshake_replay_shows_decrypted_statics(tshark, caps):
    cap = caps["by_name"]["sig-tcp5222-private"]
    con = cap["connections"][0]
    pcap = os.path.join(caps["dir"], cap["pcap"])
    out = tshark("-r", pcap, *keyopts(caps, cap), "-T", "fields", "-e", "wanoise.handshake.server_static",
                 "-e", "wanoise.handshake.client_static", "-e", "wanoise.intro.edge_data", "-Y", "wanoise.handshake.type").stdout
    flat = out.replace(":", "")
    assert con["server_static_public"] in flat
    assert con["client_static_public"] in flat
    assert con["edge_routing_hex"] and con["edge_routing_hex"] in flat


def test_no_key_leaves_ciphertext_and_says_which_key(tshark, caps):
    cap = caps["by_name"]["sig-tcp443"]
    pcap = os.path.join(caps["dir"], cap["pcap"])
    out = tshark("-r", pcap, "-q", "-z", "expert").stdout
    n = sum(1 for _ in ok_frames(cap))
    m = re.search(r"(\d+)\s+Decryption\s+WANOISE\s+No key for this Noise session \(client ephemeral ([0-9a-f]+)", out)
    assert m and int(m.group(1)) == n, out
    assert cap["connections"][0]["client_ephemeral_public"].startswith(m.group(2))
    assert not tshark("-r", pcap, "-Y", "wacall || wabinary").stdout.strip()


def test_wrong_key_fails_the_tag_and_shows_nothing(tshark, caps):
    cap = caps["by_name"]["sig-badkey"]
    pcap = os.path.join(caps["dir"], cap["pcap"])
    rows = fields(tshark, pcap, ["wanoise.direction", "wanoise.decrypted"], *keyopts(caps, cap),
                  dfilter="wanoise.frame.kind == 2")
    c2s = [r for r in rows.values() if "0" in r[0]]
    s2c = [r for r in rows.values() if "1" in r[0]]
    assert c2s and all(r[1] == ["0"] for r in c2s)
    assert s2c and all(r[1] == ["1"] for r in s2c)
    # Nothing from a failed frame reaches wabinary.
    bad = tshark("-r", pcap, *keyopts(caps, cap), "-Y", "wanoise.direction == 0 && wabinary").stdout
    assert not bad.strip()


def test_corrupt_frames_are_expert_items_not_crashes(tshark, caps):
    cap = caps["by_name"]["sig-corrupt"]
    pcap = os.path.join(caps["dir"], cap["pcap"])
    out = tshark("-r", pcap, *keyopts(caps, cap), "-q", "-z", "expert").stdout
    assert re.search(r"AES-GCM tag check failed", out)
    assert re.search(r"Malformed WABinary", out)
    assert re.search(r"Cannot unpack frame", out)


def test_broken_keylog_lines_are_reported_and_good_lines_used(tshark, caps):
    cap = caps["by_name"]["keylog-broken"]
    pcap = os.path.join(caps["dir"], cap["pcap"])
    kl = os.path.join(caps["dir"], cap["keylog"])
    p = tshark("-r", pcap, "-o", f"wacall.keylog_file:{kl}", "-Y", "wacall.action == \"offer\"")
    assert p.stdout.strip()
    reported = re.findall(r"wacall key log: .*keylog-broken\.txt:(\d+): ", p.stderr)
    assert len(reported) >= 5 and len(reported) == len(set(reported)), p.stderr


@pytest.mark.parametrize("name", ["sig-tcp443", "sig-ws"])
def test_two_passes_match_one_pass(tshark, caps, name):
    cap = caps["by_name"][name]
    pcap = os.path.join(caps["dir"], cap["pcap"])
    args = ["-r", pcap, *keyopts(caps, cap), "-T", "fields", "-e", "frame.number", "-e", "wanoise.counter",
            "-e", "wabinary.xml", "-e", "wacall.call_id"]
    one = tshark(*args).stdout
    two = tshark("-2", *args).stdout
    assert one == two and "call" in one


def test_random_access_matches_sequential(tshark, sharkd, caps):
    cap = caps["by_name"]["sig-tcp443"]
    pcap = os.path.join(caps["dir"], cap["pcap"])
    kl = os.path.join(caps["dir"], cap["keylog"])
    frames = [f["pcap_frame"] for _, f in ok_frames(cap) if f.get("call_id")]
    order = list(reversed(frames))[:6]
    reqs = [{"jsonrpc": "2.0", "id": 1, "method": "setconf", "params": {"name": "wacall.keylog_file", "value": kl}},
            {"jsonrpc": "2.0", "id": 2, "method": "load", "params": {"file": pcap}}]
    reqs += [{"jsonrpc": "2.0", "id": 10 + i, "method": "frame", "params": {"frame": fr, "proto": True}}
             for i, fr in enumerate(order)]
    out = sharkd(reqs)
    seq = fields(tshark, pcap, ["wacall.call_id"], "-o", f"wacall.keylog_file:{kl}")
    for i, fr in enumerate(order):
        tree = str(out[10 + i]["result"]["tree"])
        for cid in seq[fr][0]:
            assert cid in tree, (fr, cid)


def test_lost_segment_resynchronises_the_counter(tshark, caps):
    cap = caps["by_name"]["sig-cut"]
    pcap = os.path.join(caps["dir"], cap["pcap"])
    rows = fields(tshark, pcap, ["wanoise.counter", "wanoise.decrypted", "wacall.call_id"], *keyopts(caps, cap),
                  dfilter="wanoise.frame.kind == 2")
    after_gap = [f for con in cap["connections"] for f in con["frames"] if f.get("expect") == "after_gap"]
    assert after_gap
    for f in after_gap:
        counters, decrypted, _ = rows[f["pcap_frame"]]
        assert str(f["counter"]) in counters and "1" in decrypted, (f["pcap_frame"], rows[f["pcap_frame"]])
    out = tshark("-r", pcap, *keyopts(caps, cap), "-q", "-z", "expert").stdout
    assert "counter resynchronised" in out


def test_midstream_session_picked_up_with_traffic_keys(tshark, caps):
    """A capture that starts mid-connection (no intro, no handshake, counters already running):
    the session is found by trying the key log's WA_NOISE_TRAFFIC keys, each direction's counter by
    trial; every frame that lies wholly in the capture decrypts to the generator's stanza with its
    real counter. Without the key nothing is claimed (the port's TLS keeps the stream)."""
    cap = caps["by_name"]["sig-midstream"]
    d = caps["dir"]
    pcap = os.path.join(d, cap["pcap"])
    keys = ["-o", f"wacall.keylog_file:{os.path.join(d, cap['keylog'])}"]
    rows = fields(tshark, pcap, ["wanoise.counter", "wanoise.decrypted", "wacall.action", "_ws.expert.message"], *keys)
    whole = [f for f in cap["connections"][0]["frames"] if f["pcap_frame"] > 1 and f["expect"] == "ok"]
    assert len(whole) >= 12
    for f in whole:
        counters, decrypted, actions, _ = rows[f["pcap_frame"]]
        i = counters.index(str(f["counter"]))
        assert decrypted[i] == "1", f
        if f.get("action"):
            assert f["action"] in actions, (f, actions)
    notes = [m for v in rows.values() for m in v[3] if "picked up mid-stream" in m]
    assert len(notes) == 2  # one per direction
    assert fields(tshark, pcap, ["wanoise.counter", "wacall.action"], "-2", *keys) == \
        fields(tshark, pcap, ["wanoise.counter", "wacall.action"], *keys)
    bare = fields(tshark, pcap, ["wanoise.counter"])
    assert all(not v[0] for v in bare.values())


def test_certificate_chain_decoded_from_replayed_server_hello(tshark, caps):
    """With WA_NOISE_PRIVATE the ServerHello's certificate chain is decrypted and decoded: the
    generator's chain (noise.cert_chain: leaf 329 issued by intermediate 3, issued by the root 0,
    leaf key = the server static) with the structural checks passing; the leaf key field equals
    the manifest's server static key."""
    cap = caps["by_name"]["sig-tcp5222-private"]
    d = caps["dir"]
    rows = fields(tshark, os.path.join(d, cap["pcap"]),
                  ["wanoise.cert.serial", "wanoise.cert.issuer_serial", "wanoise.cert.key", "wanoise.cert.root_ok",
                   "wanoise.cert.chain_ok", "wanoise.cert.key_ok"],
                  "-o", f"wacall.keylog_file:{os.path.join(d, cap['keylog'])}", dfilter="wanoise.cert.serial")
    assert len(rows) == 1
    serial, issuer, keys, root_ok, chain_ok, key_ok = next(iter(rows.values()))
    assert serial == ["329", "3"] and issuer == ["3", "0"]
    assert keys[0].replace(":", "") == cap["connections"][0]["server_static_public"]
    assert root_ok == chain_ok == key_ok == ["1"]
