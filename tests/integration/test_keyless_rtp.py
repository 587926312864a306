"""WARP RTP without a usable key still feeds Wireshark's RTP tools (issue 15, part 1): every packet
left encrypted is handed to rtp as SRTP with its clear header, so -z rtp,streams, the stream
analysis and the graphs see it; the payload is shown as SRTP Encrypted Payload + Auth Tag and never
handed to a codec. With keys nothing changes (test_media covers the decrypted side)."""
import os
import re

import pytest

from conftest import REAL, fields

# Captures whose generator model has a stream table (test-pcaps/gen/media.py stream_table()).
WITH_STREAMS = ["sample/call", "media-only", "media-tag10", "media-dialect", "media-dialect-v6", "call-full",
                "media-opus"]
PT_NAMES = {120: "WA-AUDIO", 121: "WA-RED", 111: "OPUS", 97: "H264", 102: "WA-VIDEO", 103: "WA-VIDEO",
            119: "WA-APPDATA"}
ROW = re.compile(r"^\s*\S+\s+\S+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]{8})\s+(\S+)\s+(\d+)\s+(-?\d+)",
                 re.M)


def streams(out):
    """-z rtp,streams rows: {(src, sport, dst, dport, ssrc): (payload name, packets, lost)}."""
    rows = {}
    for m in ROW.finditer(out):
        src, sport, dst, dport, ssrc, pt, pkts, lost = m.groups()
        rows[(src, int(sport), dst, int(dport), int(ssrc, 16))] = (pt, int(pkts), int(lost))
    return rows


def cap_pcap(caps, name):
    cap = caps["by_name"][name]
    base = caps["by_name"][cap["same_frames_as"]] if cap.get("same_frames_as") else cap
    d = caps["dir"]
    keys = ["-o", f"wacall.keylog_file:{os.path.join(d, cap['keylog'])}"] if cap.get("keylog") else []
    return base, os.path.join(d, base["pcap"]), keys


@pytest.mark.parametrize("name", WITH_STREAMS)
def test_keyless_streams_equal_model(tshark, caps, name):
    """Without the key log: one row per generated stream, with the model's packets and lost counted
    over every RTP header, and WhatsApp's payload-type names."""
    base, pcap, _ = cap_pcap(caps, name)
    rows = streams(tshark("-r", pcap, "-q", "-z", "rtp,streams").stdout)
    assert len(rows) == len(base["streams"]), rows
    by_ssrc = {k[4]: v for k, v in rows.items()}
    for s in base["streams"]:
        assert s["ssrc"] in by_ssrc, (s["ssrc_hex"], rows)
        pt, pkts, lost = by_ssrc[s["ssrc"]]
        assert pt == PT_NAMES[s["pt"]], (s["ssrc_hex"], pt)
        assert (pkts, lost) == (s["packets_all_headers"], s["lost_all_headers"]), (s, pkts, lost)


@pytest.mark.parametrize("name", ["sample/call", "media-dialect", "media-dialect-v6", "media-opus"])
def test_keyless_streams_equal_keyed(tshark, caps, name):
    """Where every packet decrypts, the keyless rows (address, ports, SSRC, payload, packets, lost)
    are the rows seen with the keys."""
    base, pcap, keys = cap_pcap(caps, name)
    assert all(s["packets"] == s["packets_all_headers"] for s in base["streams"])
    keyless = streams(tshark("-r", pcap, "-q", "-z", "rtp,streams").stdout)
    keyed = streams(tshark("-r", pcap, *keys, "-q", "-z", "rtp,streams").stdout)
    assert keyless and keyless == keyed


def test_keyless_payload_encrypted_no_codec(tshark, caps):
    """Every WARP RTP packet without a key: rtp as SRTP (encrypted payload and the WARP tag as the
    auth tag), nothing below rtp, the WARP columns kept. PT 111 (Opus) included."""
    for name in ("sample/call", "media-opus"):
        base, pcap, _ = cap_pcap(caps, name)
        tag_len = 4  # the WARP tag of these calls (without keys or signaling the default length)
        rows = fields(tshark, pcap, ["frame.protocols", "rtp.seq", "srtp.enc_payload", "srtp.auth_tag",
                                     "rtp.payload", "_ws.col.Protocol"], dfilter="warp")
        n = 0
        for f in base["frames"]:
            if f.get("kind") != "rtp":
                continue
            protos, seq, enc, tag, payload, col = rows[f["frame"]]
            assert protos[0].endswith(":warp:rtp"), (f["frame"], protos)
            assert seq == [str(f["seq"])] and enc and not payload, (f["frame"], seq, payload)
            assert len(tag[0].replace(":", "")) == 2 * tag_len, (f["frame"], tag)
            assert col == ["WARP"]
            n += 1
        assert n > 10


def test_keyless_one_pass_equals_two(tshark, caps):
    base, pcap, _ = cap_pcap(caps, "call-full")
    names = ["frame.protocols", "rtp.seq", "rtp.extseq", "rtp.setup-frame", "rtp.setup-method", "srtp.auth_tag",
             "rtp.p_type"]
    one = fields(tshark, pcap, names)
    two = fields(tshark, pcap, names, "-2")
    assert one == two
    assert sum(1 for r in one.values() if r[1]) >= sum(1 for f in base["frames"] if f.get("kind") == "rtp")
    assert {m for r in one.values() for m in r[4]} == {"WACALL"}


def test_forged_packets_with_keys_reach_rtp_as_srtp(tshark, caps):
    """With keys, a packet whose tag fails is left encrypted: it reaches rtp as SRTP, the others
    are decrypted exactly as before (rtp.payload, no SRTP items)."""
    base, pcap, keys = cap_pcap(caps, "media-only")
    rows = fields(tshark, pcap, ["warp.decrypted", "srtp.enc_payload", "rtp.payload", "rtp.seq"], *keys,
                  dfilter="warp")
    n_forged = 0
    for f in base["frames"]:
        if f.get("kind") != "rtp":
            continue
        decrypted, enc, payload, seq = rows[f["frame"]]
        assert seq == [str(f["seq"])]
        if decrypted == ["1"]:
            assert payload and not enc
        else:
            assert enc and not payload
            n_forged += 1
    assert n_forged >= 1


def wa_flows(tshark, pcap):
    """UDP flows the plugin claims as WhatsApp media, both directions."""
    out = tshark("-r", pcap, "-Y", "warp", "-T", "fields", "-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst", "-e",
                 "udp.dstport").stdout
    flows = set()
    for line in out.splitlines():
        src, sport, dst, dport = line.split("\t")
        flows.add((src, int(sport), dst, int(dport)))
    return flows


@pytest.mark.parametrize("real", ["wa-voice-2019.pcap", "wa-tcp-edge-2022.pcap"])
def test_real_capture_streams_as_stock_heuristic(tshark, stock_tshark, real):
    """Every RTP stream stock tshark finds with its RTP heuristic in a WhatsApp flow is in the
    plugin's own -z rtp,streams (no option) with the same packet count; relay and peer-to-peer."""
    pcap = os.path.join(REAL, real)
    if not os.path.exists(pcap):
        pytest.skip(f"{real} not available")
    stock = streams(stock_tshark("-r", pcap, "--enable-heuristic", "rtp_udp", "-q", "-z", "rtp,streams").stdout)
    flows = wa_flows(tshark, pcap)
    expected = {k: v for k, v in stock.items() if k[:4] in flows}
    plugin = streams(tshark("-r", pcap, "-q", "-z", "rtp,streams").stdout)
    for k, (_pt, pkts, lost) in expected.items():
        assert k in plugin, (k, plugin)
        assert plugin[k][1:] == (pkts, lost), (k, plugin[k], (pkts, lost))
    if real == "wa-voice-2019.pcap":
        assert len(expected) == 4 and sum(v[1] for v in expected.values()) == 131
        # the peer-to-peer path (no relay port) counts like the relay path
        assert any(3478 not in (k[1], k[3]) for k in expected)
        assert {v[0] for k, v in plugin.items() if k in expected} == {"WA-AUDIO"}
