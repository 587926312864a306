"""Every WhatsApp dialect, 0 malformed (issue 12, part 2): the relay STUN and WARP shapes real
clients of 2015-2023 send, decoded to the values the generator wrote (test-pcaps/gen/
media_dialect.py: media-dialect.pcap over IPv4, media-dialect-v6.pcap over IPv6), and the shared
real WhatsApp captures read without a single malformed packet."""
import ipaddress
import os

import pytest

from conftest import REAL, fields

DIALECT = ["media-dialect", "media-dialect-v6"]
LAYOUT = {"padded": "0", "unpadded": "1", "opaque": "2"}
REAL_WA = ["wa-voice-2019.pcap", "wa-tcp-edge-2022.pcap"]


def open_args(caps, name):
    cap = caps["by_name"][name]
    return cap, ["-r", os.path.join(caps["dir"], cap["pcap"]),
                 "-o", f"wacall.keylog_file:{os.path.join(caps['dir'], cap['keylog'])}"]


def real_path(name):
    path = os.path.join(REAL, name)
    if not os.path.exists(path):
        pytest.skip(f"{path} not available")
    return path


def norm_addr(text):
    """'[2001:db8:1:0:0:0:0:44]:41006' or '192.0.2.44:41000' -> (ip_address, port)."""
    host, port = text.rsplit(":", 1)
    return ipaddress.ip_address(host.strip("[]")), int(port)


@pytest.mark.parametrize("name", DIALECT)
def test_dialect_stun_decoded(tshark, caps, name):
    cap, args = open_args(caps, name)
    names = ["wastun.type", "wastun.layout", "wastun.length", "wastun.attr.type", "wastun.wa_token.ssrc",
             "wastun.wa_token.participant", "wastun.relay_time.offset", "wastun.trailing", "wastun.txid",
             "wastun.txid16", "wastun.integrity.status", "wastun.address", "wastun.zero_padding", "wastun.body",
             "wastun.call_id"]
    rows = fields(tshark, args[1], names, *args[2:], dfilter="wastun")
    stun = [f for f in cap["frames"] if f["kind"] == "stun"]
    assert len(stun) == 12 and len(rows) == 12
    self_pid = cap["participants"]["c2s"]["participant"]
    seen_layouts = set()
    for f in stun:
        (mtype, layout, length, atypes, ssrcs, token_pids, offset, trailing, txid, txid16, mi, addrs, zpad, body,
         call_id) = rows[f["frame"]]
        assert mtype == [f"0x{f['stun_type']:04x}"], f
        assert layout == [LAYOUT[f["layout"]]], f
        seen_layouts.add(f["layout"])
        assert length == [str(f["length"])]
        assert [int(t, 16) for t in atypes] == f["attrs"], f
        assert call_id == [cap["call_id"]], f
        # 0x0022: WhatsApp's, its SSRC decoded, attributed through the key log to the sender.
        assert [int(s, 16) for s in ssrcs] == f.get("wa_token_ssrcs", []), f
        assert token_pids == [self_pid] * len(f.get("wa_token_ssrcs", []))
        # 0x4002: the relay's clock, a few milliseconds from the capture's.
        if "relay_time_ms" in f:
            assert round(float(offset[0]) * 1000) == f["relay_time_offset_ms"] == cap["relay_clock_skew_ms"]
        else:
            assert offset == []
        assert trailing == ([f["trailing_hex"]] if f["trailing_hex"] else []), f
        # No cookie: RFC 3489's 16-byte transaction id.
        assert (txid16 if not f["cookie"] else txid) == [f["txid"]], f
        assert (txid if not f["cookie"] else txid16) == []
        assert mi == {"absent": [], "good": ["1"], "bad": ["0"]}[f["integrity"]], f
        if "mapped" in f or "relay_endpoint" in f:
            assert [norm_addr(a) for a in addrs] == [norm_addr(f.get("mapped") or f["relay_endpoint"])], f
        if "zero_padding_len" in f:
            assert zpad == ["00" * f["zero_padding_len"]]
        if f["layout"] == "opaque":
            assert body == ["00000007"] and f["stun_type"] == 0x802B
    assert seen_layouts == {"padded", "unpadded", "opaque"}
    unpadded = [f for f in stun if f["layout"] == "unpadded"]
    assert sorted(f["length"] for f in unpadded) == [119, 119, 164]


@pytest.mark.parametrize("name", DIALECT)
def test_dialect_zero_malformed(tshark, caps, name):
    cap, args = open_args(caps, name)
    out = tshark(*args, "-Y", "_ws.malformed || _ws.expert.severity >= warning", "-T", "fields", "-e",
                 "frame.number", "-e", "_ws.expert.message").stdout
    assert out == ""
    tree = tshark(*args, "-V").stdout
    assert "Malformed" not in tree and "(null)" not in tree
    assert tree.count("WhatsApp Relay STUN") == 12


@pytest.mark.parametrize("name", DIALECT)
def test_dialect_rtp_decrypted_with_debe_in_rtp_tree(tshark, caps, name):
    """IPv4 and IPv6 alike: every RTP packet decrypts; Wireshark's rtp shows the 0xDEBE elements
    (rtp.hdr_ext table) instead of raw extension words, element 13 named "unknown"."""
    cap, args = open_args(caps, name)
    rows = fields(tshark, args[1], ["warp.decrypted", "rtp.ssrc", "rtp.seq", "warp.ext.id", "rtp.hdr_ext",
                                    "rtp.hdr_exts"], *args[2:], dfilter="warp && !wastun")
    rtp = [f for f in cap["frames"] if f["kind"] == "rtp"]
    assert len(rtp) == 40 and len(rows) == 40
    for f in rtp:
        decrypted, ssrc, seq, ext_ids, raw_words, block = rows[f["frame"]]
        assert decrypted == ["1"], f
        assert int(ssrc[0], 16) == f["ssrc"] and seq == [str(f["seq"])]
        assert raw_words == []  # on main: "Header extension: 0x3001d15a" words, no elements
        assert [int(i) for i in ext_ids] == f["ext_ids"], f
        assert len(block) == (1 if f["ext_ids"] else 0)
    tree = tshark(*args, "-O", "rtp", "-Y", "rtp.ssrc == 0x%08x" % cap["participants"]["c2s"]["ssrcs"]["audio"]).stdout
    assert tree.count("Element 13 (unknown), 2 byte(s)") == 20
    assert tree.count("Element 3 (DTX/piggyback), 1 byte(s)") == 20


@pytest.mark.parametrize("name", DIALECT)
def test_dialect_one_and_two_passes_agree(tshark, caps, name):
    """Attribution (0x0022 SSRCs), MI verification and decryption are decided on the first pass."""
    cap, args = open_args(caps, name)
    q = ["-T", "fields", "-e", "frame.protocols", "-e", "wastun.layout", "-e", "wastun.integrity.status", "-e",
         "wastun.wa_token.participant", "-e", "wastun.call_id", "-e", "warp.decrypted", "-e", "warp.ext.id"]
    one, two = tshark(*args, *q).stdout, tshark(*args, "-2", *q).stdout
    assert one == two and one.count("\n") == len(cap["frames"]) + len(cap.get("unclaimed_frames", []))


def test_cookieless_ping_alone_is_not_claimed(tshark, stock_tshark, caps):
    """A cookieless ping/pong is no WhatsApp evidence: on a flow with nothing else it stays stock."""
    cap, args = open_args(caps, "media-dialect")
    frames = cap["unclaimed_frames"]
    assert len(frames) == 2
    q = args + ["-Y", " || ".join(f"frame.number == {n}" for n in frames), "-V"]
    stock, plugin = stock_tshark(*q[:2], *q[4:]).stdout, tshark(*q).stdout
    assert "udp" in stock and plugin == stock


def test_real_2019_call_dialect(tshark):
    """wa-voice-2019.pcap: 24 Allocates and 5 0x0800 of length 106 (0x4000 of 102, unpadded), 20
    Allocate Successes whose 0x4002 relay time is within 10 ms of the frame time."""
    path = real_path("wa-voice-2019.pcap")
    rows = fields(tshark, path, ["wastun.type", "wastun.layout", "wastun.relay_time.offset"], dfilter="wastun")
    by_type = {}
    for mtype, layout, offset in rows.values():
        by_type.setdefault(mtype[0], []).append((layout[0], offset))
    assert [l for l, _ in by_type["0x0003"]] == ["1"] * 24
    assert [l for l, _ in by_type["0x0800"]] == ["1"] * 5
    offsets = [float(o[0]) for _, o in by_type["0x0103"]]
    assert len(offsets) == 20 and all(abs(o) < 0.010 for o in offsets), offsets
    assert all(layout == "0" for layout, _ in by_type["0x0001"] + by_type["0x0101"])


@pytest.mark.parametrize("name", REAL_WA)
def test_real_whatsapp_zero_malformed(tshark, name):
    path = real_path(name)
    assert tshark("-r", path, "-Y", "_ws.malformed", "-T", "fields", "-e", "frame.number").stdout == ""
    # Warnings left are the honest "no key for this Noise session" ones, never the media plane's.
    out = tshark("-r", path, "-Y", "_ws.expert.severity >= warning && (wastun || warp)", "-T", "fields", "-e",
                 "frame.number").stdout
    assert out == ""
    tree = tshark("-r", path, "-V").stdout
    assert "Malformed" not in tree and "(null)" not in tree
