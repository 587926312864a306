"""Issue 6, analyst workflows: audio you can hear (the wacall_opus codec plugin decodes the
plugin's decrypted Opus back to the generator's libopus sine) and the decrypted-media export
(scripts/wacall-export) read by a Wireshark WITHOUT the plugin."""
import os
import re
import shutil
import struct
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT, RUNNER, WS_ABI, fields

sys.path.insert(0, os.path.join(ROOT, "tests", "codec"))
sys.path.insert(0, os.path.join(ROOT, "test-pcaps", "gen"))
import pcapw  # noqa: E402
import run_opus_codec_test as codec  # noqa: E402

EXPORT = os.path.join(ROOT, "scripts", "wacall-export")
STOCK = os.environ.get("TSHARK", "tshark")


def capture(caps, name):
    cap = caps["by_name"][name]
    return cap, os.path.join(caps["dir"], cap["pcap"]), os.path.join(caps["dir"], cap["keylog"])


# ---- the codec plugin ----------------------------------------------------------------------------

# wacall builds its Opus codec only where Wireshark has none (4.0); from 4.4 Wireshark's own
# opus_dec plays the decrypted streams, and the build tree links it next to the dissector.
OWN_CODEC = os.path.exists(os.path.join(BUILD, "plugins", WS_ABI, "codecs", "wacall_opus.so"))
needs_own_codec = pytest.mark.skipif(not OWN_CODEC, reason=f"Wireshark {WS_ABI} has its own Opus codec (opus_dec)")


def test_an_opus_codec_is_loaded_from_the_build_tree(tshark):
    out = tshark("-G", "plugins").stdout
    name = "wacall_opus.so" if OWN_CODEC else "opus_dec.so"
    m = re.search(rf"^{re.escape(name)}\s+\S+\s+codec\s+(\S+)$", out, re.M)
    assert m, out
    assert m.group(1) == os.path.join(BUILD, "plugins", WS_ABI, "codecs", name)


def test_opus_capture_decrypts_to_the_libopus_frames(tshark, caps):
    cap, pcap, keys = capture(caps, "media-opus")
    rows = fields(tshark, pcap, ["warp.decrypted", "rtp.p_type", "rtp.seq", "rtp.payload"],
                  "-o", f"wacall.keylog_file:{keys}", dfilter="rtp")
    rtp = [f for f in cap["frames"] if f["kind"] == "rtp"]
    assert len(rtp) == cap["opus"]["frames"]
    for f in rtp:
        decrypted, pt, seq, payload = rows[f["frame"]]
        assert decrypted == ["1"] and pt == ["111"] and seq == [str(f["seq"])]
        assert payload[0].replace(":", "") == f["payload_hex"], f["frame"]
    streams = tshark("-r", pcap, "-o", f"wacall.keylog_file:{keys}", "-q", "-z", "rtp,streams").stdout
    assert re.search(rf"{cap['opus']['ssrc_hex']}\s+OPUS\s+{cap['opus']['frames']}\s+0 ", streams, re.I), streams


@needs_own_codec
def test_decrypted_opus_decodes_to_the_sine(caps, tmp_path):
    """capture -> plugin decryption (tshark) -> codec plugin loaded by wsutil's codecs_init():
    frequency within 2 Hz, SNR >= 30 dB, amplitude within 15 %, exact length, PLC contract."""
    cap, pcap, keys = capture(caps, "media-opus")
    opus = cap["opus"]
    payloads = str(tmp_path / "payloads.txt")
    assert codec.extract_payloads(BUILD, pcap, keys, opus["ssrc_hex"], payloads) == opus["frames"]
    p = codec.run_codec_test(BUILD, payloads, opus, wav=str(tmp_path / "decoded.wav"))
    assert p.returncode == 0, p.stdout + p.stderr
    for check in ("find_codec(\"OPUS\")", "find_codec(\"opus\")", "PLC on an empty payload", "dominant frequency",
                  "SNR", "amplitude", "length"):
        assert re.search(rf"^ok   {re.escape(check)}:", p.stdout, re.M), (check, p.stdout)
    assert (tmp_path / "decoded.wav").stat().st_size == 44 + 2 * opus["frames"] * opus["frame_samples"]


@needs_own_codec
def test_codec_test_fails_on_the_wrong_reference(caps, tmp_path):
    """The comparison has teeth: the same audio against a 1 kHz reference fails."""
    cap, pcap, keys = capture(caps, "media-opus")
    opus = dict(cap["opus"], sine=dict(cap["opus"]["sine"], freq_hz=1000.0))
    payloads = str(tmp_path / "payloads.txt")
    codec.extract_payloads(BUILD, pcap, keys, cap["opus"]["ssrc_hex"], payloads)
    p = codec.run_codec_test(BUILD, payloads, opus)
    assert p.returncode != 0 and re.search(r"^FAIL dominant frequency", p.stdout, re.M), p.stdout


# ---- the export ----------------------------------------------------------------------------------

def run_export(src, dst, keys, *extra):
    env = dict(os.environ, WACALL_BUILD_DIR=BUILD)
    p = subprocess.run([sys.executable, EXPORT, src, dst, "--keylog", keys, "--tshark", RUNNER, *extra],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    return p


def stock_tshark(*args):
    """tshark without the wacall plugin (it is loaded from the build tree only through the
    runner; if it is installed system-wide, its protocols are disabled)."""
    env = dict(os.environ, WIRESHARK_CONFIG_DIR=os.path.join(BUILD, "ws-config-stock"))
    os.makedirs(env["WIRESHARK_CONFIG_DIR"], exist_ok=True)
    plugins = subprocess.run([STOCK, "-G", "plugins"], capture_output=True, text=True, env=env).stdout
    off = []
    if "wacall.so" in plugins:
        for proto in ("warp", "wastun", "wanoise", "wabinary", "wacall"):
            off += ["--disable-protocol", proto]
    p = subprocess.run([STOCK, *off, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


def stock_rtp_rows(pcap, port):
    rows = {}
    out = stock_tshark("-r", pcap, "-d", f"udp.port=={port},rtp", "-T", "fields", "-E", "occurrence=f",
                       "-e", "frame.number", "-e", "rtp.seq", "-e", "rtp.ssrc", "-e", "rtp.payload")
    for line in out.splitlines():
        n, seq, ssrc, payload = line.split("\t")
        rows[int(n)] = (seq, ssrc, payload.replace(":", ""))
    return rows


EXPORTED = ["media-only", "media-tag10", "media-opus", "call-full"]


@pytest.mark.parametrize("name", EXPORTED)
def test_export_is_cleartext_rtp_for_stock_wireshark(caps, tmp_path, name):
    cap, pcap, keys = capture(caps, name)
    out = str(tmp_path / "clear.pcap")
    run_export(pcap, out, keys)
    before, after = pcapw.read_pcap(pcap), pcapw.read_pcap(out)
    assert len(before) == len(after)
    assert [t for t, _ in before] == [t for t, _ in after]
    port = int(cap["client"].split(":")[1])
    rows = stock_rtp_rows(out, port)
    media = {f["frame"]: f for f in cap["frames"] if f.get("kind") in ("rtp", "rtcp", "stun")}
    n_clear = 0
    for n, (b, a) in enumerate(zip(before, after), 1):
        f = media.get(n)
        if f and f["kind"] == "rtp" and f["expect_decrypted"]:
            seq, ssrc, payload = rows[n]
            assert (int(seq), int(ssrc, 16), payload) == (f["seq"], f["ssrc"], f["payload_hex"]), n
            assert len(a[1]) == len(b[1]) - f["tag_len"] - (f["envelope_len"] or 0) - \
                (len(f["srtp_payload_hex"]) - len(f["payload_hex"])) // 2, n
            n_clear += 1
        else:
            assert a[1] == b[1], f"frame {n} ({f and f['kind']}) changed"
    assert n_clear == sum(1 for f in media.values() if f["kind"] == "rtp" and f["expect_decrypted"]) > 10
    bad = stock_tshark("-r", out, "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
                       "-Y", "udp.checksum.status != 1 || ip.checksum.status == 0")
    assert not bad.strip(), bad


def test_export_stream_counts_match_the_generator(caps, tmp_path):
    """Stock -z rtp,streams over the export gives the manifest's per-stream counts of every RTP
    header: frames that did not decrypt (the forged one) stay in the export as they were."""
    cap, pcap, keys = capture(caps, "media-only")
    out = str(tmp_path / "clear.pcap")
    run_export(pcap, out, keys)
    text = stock_tshark("-r", out, "-d", f"udp.port=={cap['client'].split(':')[1]},rtp", "-q", "-z", "rtp,streams")
    for s in cap["streams"]:
        m = re.search(rf"{s['ssrc_hex']}\s+\S+\s+(\d+)\s+(-?\d+)", text, re.I)
        assert m and (int(m.group(1)), int(m.group(2))) == (s["packets_all_headers"], s["lost_all_headers"]), \
            (s, text)


def test_export_without_keys_changes_nothing(caps, tmp_path):
    cap, pcap, _ = capture(caps, "media-only")
    wrong = os.path.join(caps["dir"], caps["by_name"]["media-wrongkey"]["keylog"])
    out = str(tmp_path / "same.pcap")
    run_export(pcap, out, wrong)
    with open(pcap, "rb") as a, open(out, "rb") as b:
        assert a.read() == b.read()


def test_export_pcapng_and_rtcp(caps, tmp_path):
    """pcapng in, pcapng out (editcap); --rtcp also puts the SRTCP plaintext in the clear."""
    editcap = shutil.which("editcap")
    if not editcap:
        pytest.skip("no editcap")
    cap, pcap, keys = capture(caps, "media-opus")
    ng = str(tmp_path / "in.pcapng")
    subprocess.run([editcap, "-F", "pcapng", pcap, ng], check=True, capture_output=True)
    out = str(tmp_path / "clear.pcapng")
    run_export(ng, out, keys, "--rtcp")
    with open(out, "rb") as f:
        assert f.read(4) == b"\x0a\x0d\x0d\x0a"
    rows = stock_rtp_rows(out, cap["opus"]["client_port"])
    want = {f["frame"]: f["payload_hex"] for f in cap["frames"] if f["kind"] == "rtp"}
    assert {n: rows[n][2] for n in want} == want
    rtcp = [f for f in cap["frames"] if f["kind"] == "rtcp"]
    got = stock_tshark("-r", out, "-d", f"udp.port=={cap['opus']['client_port']},rtcp", "-T", "fields",
                       "-e", "frame.number", "-e", "rtcp.pt", "-Y", "rtcp")
    frames = {int(line.split("\t")[0]) for line in got.splitlines()}
    assert {f["frame"] for f in rtcp} <= frames and rtcp


def test_payload_dumps(caps, tmp_path):
    cap, pcap, keys = capture(caps, "media-only")
    d = tmp_path / "payloads"
    run_export(pcap, str(tmp_path / "clear.pcap"), keys, "--payload-dir", str(d))
    good = [f for f in cap["frames"] if f["kind"] == "rtp" and f["expect_decrypted"]]
    ssrcs = sorted({f["ssrc"] for f in good})
    assert sorted(p.name for p in d.glob("*.payload")) == [f"ssrc-{s:08x}.payload" for s in ssrcs]
    for s in ssrcs:
        mine = [f for f in good if f["ssrc"] == s]  # manifest frames are in capture order
        blob = (d / f"ssrc-{s:08x}.payload").read_bytes()
        assert blob == b"".join(bytes.fromhex(f["payload_hex"]) for f in mine)
        index = (d / f"ssrc-{s:08x}.txt").read_text().splitlines()
        assert index[0].split("\t") == ["frame", "seq", "ext_seq", "timestamp", "pt", "marker", "offset", "length"]
        rows = [dict(zip(index[0].split("\t"), map(int, line.split("\t")))) for line in index[1:]]
        assert [(r["frame"], r["seq"], r["timestamp"], r["pt"], r["length"]) for r in rows] == \
            [(f["frame"], f["seq"], f["ts"], f["pt"], len(f["payload_hex"]) // 2) for f in mine]
        for r in rows:
            assert blob[r["offset"]:r["offset"] + r["length"]].hex() == next(
                f["payload_hex"] for f in mine if f["frame"] == r["frame"])
        opus = d / f"ssrc-{s:08x}.opus"
        assert opus.exists() == (mine[0]["pt"] == 111)
        if opus.exists():
            by_index, recs, o, raw = {}, [], 0, opus.read_bytes()
            for f in mine:
                by_index.setdefault(f["index"], f["payload_hex"])
            while o < len(raw):
                n, rng = struct.unpack_from(">II", raw, o)
                recs.append(raw[o + 8:o + 8 + n].hex())
                assert rng == 0
                o += 8 + n
            first = min(by_index)
            assert len(recs) == max(by_index) - first + 1
            assert recs == [by_index.get(first + i, "") for i in range(len(recs))]
            assert recs.count("") == sum(1 for i in range(len(recs)) if first + i not in by_index) > 0
