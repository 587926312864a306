"""No trace on other traffic: for captures that hold no WhatsApp traffic, tshark with the plugin
shows exactly what stock tshark shows (no wacall loaded at all: scripts/tshark-stock.sh), frame
by frame: the protocol stack, the whole -V tree, TCP reassembly and TLS decryption.

Negatives: the generator's (test-pcaps/gen/negatives.py: HTTPS with a Certificate over three
segments and its TLS key log, XMPP on 5222, WebRTC and TURN on 3478, a TURN allocation on a Meta
relay address) and the shared real captures of other apps (Signal, Google Meet, Zoom).
"""
import os

import pytest

from conftest import REAL

REAL_NEGATIVES = ["signal-call-2022.pcap", "meet-stun.pcapng", "zoom-p2p.pcapng"]
GENERATED = ["neg-https", "neg-xmpp", "neg-webrtc", "neg-turn-meta"]


def negative_args(caps, name):
    """tshark arguments that open one negative (with its TLS key log where it has one)."""
    if name in REAL_NEGATIVES:
        path = os.path.join(REAL, name)
        if not os.path.exists(path):
            pytest.skip(f"{path} not available")
        return ["-r", path]
    entry = {c["name"]: c for c in caps["negatives"]}[name]
    args = ["-r", os.path.join(caps["dir"], entry["pcap"])]
    if entry.get("tls_keylog"):
        args += ["-o", f"tls.keylog_file:{os.path.join(caps['dir'], entry['tls_keylog'])}"]
    return args


def first_difference(a, b):
    la, lb = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            return f"line {i + 1}:\n stock:  {x}\n plugin: {y}"
    return f"stock has {len(la)} lines, plugin {len(lb)}"


ALL = GENERATED + REAL_NEGATIVES


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("passes", [[], ["-2"]], ids=["one-pass", "two-pass"])
def test_same_protocol_stack_every_frame(caps, tshark, stock_tshark, name, passes):
    args = negative_args(caps, name) + passes + ["-T", "fields", "-e", "frame.number", "-e", "frame.protocols"]
    stock, plugin = stock_tshark(*args).stdout, tshark(*args).stdout
    assert stock.count("\n") > 10, stock
    assert plugin == stock, first_difference(stock, plugin)


@pytest.mark.parametrize("name", ALL)
def test_same_tree_every_frame(caps, tshark, stock_tshark, name):
    args = negative_args(caps, name) + ["-V"]
    stock, plugin = stock_tshark(*args).stdout, tshark(*args).stdout
    assert plugin == stock, first_difference(stock, plugin)


def test_plugin_is_loaded_and_stock_is_not(tshark, stock_tshark):
    """The comparison means something only if one side has wacall and the other has none."""
    assert "wacall.so" in tshark("-G", "plugins").stdout
    assert "wacall" not in stock_tshark("-G", "plugins").stdout


def test_https_certificate_over_three_segments_and_decrypted_http(caps, tshark):
    """What a user sees of HTTPS with the plugin installed: the TLS 1.2 Certificate record,
    reassembled from three TCP segments, and both connections' HTTP decrypted with the key log."""
    args = negative_args(caps, "neg-https") + ["-T", "fields", "-E", "occurrence=f", "-e", "frame.number", "-e",
                                               "tcp.segment.count", "-e", "x509sat.uTF8String", "-e",
                                               "x509ce.dNSName", "-e", "http.request.uri", "-e", "tls.handshake.type",
                                               "-e", "http.request.method"]
    rows = [line.split("\t") for line in tshark(*args).stdout.splitlines()]
    cert_rows = [r for r in rows if r[3]]
    assert len(cert_rows) == 2, rows  # one certificate per connection
    tls12 = cert_rows[0]
    assert tls12[1] == "3", f"the TLS 1.2 certificate should be reassembled from 3 segments: {tls12}"
    assert tls12[2] == "cdn.example.com" and tls12[3] == "cdn.example.com"
    facts = {c["name"]: c for c in caps["negatives"]}["neg-https"]["facts"]
    # requests only: from 4.4 a response repeats its request's URI
    assert [r[4] for r in rows if r[6]] == facts["http_requests"]


def test_https_without_key_log_shows_application_data_only(caps, tshark, stock_tshark):
    entry = {c["name"]: c for c in caps["negatives"]}["neg-https"]
    args = ["-r", os.path.join(caps["dir"], entry["pcap"]), "-Y", "http", "-T", "fields", "-e", "frame.number"]
    assert tshark(*args).stdout == stock_tshark(*args).stdout == ""


def test_xmpp_stanzas_on_5222(caps, tshark):
    args = negative_args(caps, "neg-xmpp") + ["-Y", "xmpp", "-T", "fields", "-e", "frame.number", "-e",
                                              "frame.protocols"]
    rows = [line.split("\t") for line in tshark(*args).stdout.splitlines()]
    # frame 9 completes the message stanza cut over frames 8 and 9
    assert [r[0] for r in rows] == ["4", "5", "6", "7", "9", "10"], rows
    assert all(r[1] == "eth:ethertype:ip:tcp:xmpp:xml" for r in rows), rows


def test_webrtc_keeps_stun_dtls_and_srtp(caps, tshark):
    args = negative_args(caps, "neg-webrtc") + ["-T", "fields", "-e", "_ws.col.Protocol"]
    counts = {}
    for p in tshark(*args).stdout.split():
        counts[p] = counts.get(p, 0) + 1
    # 2 TURN + 2 ICE + 10 ChannelData + 2 IPv6 ICE as STUN; 4 DTLS records; 60 SRTP and 3 SRTCP,
    # which stock's STUN hands to its own RTP/RTCP demultiplexer (the 5 IPv6 SRTP stay UDP there).
    assert counts.get("STUN") == 16, counts
    assert counts.get("DTLS", 0) + counts.get("DTLSv1.2", 0) == 4, counts
    assert counts.get("SRTP") == 60 and counts.get("SRTCP") == 3, counts
    assert not any(p.startswith(("WARP", "WASTUN")) for p in counts), counts


@pytest.mark.parametrize("disabled", ["wanoise", "warp"])
def test_disabling_our_protocols_leaves_ports_to_their_owners(caps, tshark, stock_tshark, disabled):
    """The port wrappers follow the owner's protocol: with wanoise or warp disabled, TLS on 443
    and STUN/DTLS/SRTP on 3478 are still there, exactly as stock shows them."""
    for name in ("neg-https", "neg-webrtc"):
        args = negative_args(caps, name) + ["-T", "fields", "-e", "frame.number", "-e", "frame.protocols"]
        stock = stock_tshark(*args).stdout
        assert ":tls" in stock or ":stun" in stock
        assert tshark("--disable-protocol", disabled, *args).stdout == stock
