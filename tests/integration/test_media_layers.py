"""Optional key layers: the hop-by-hop SRTP/SRTCP layer (both derivations, both MI placements,
4- and 10-byte HBH tags, a forged HBH tag) and group calls keyed by epochs (WA_CALL_EPOCH)."""
import os

import pytest

from conftest import fields

HBH = ["media-hbh", "media-hbh-hkdf"]
FIELDS = ["warp.decrypted", "rtp.payload", "warp.hbh.tag_len", "warp.hbh.status", "warp.participant", "rtcp.pt",
          "warp.epoch", "warp.key"]


def run(tshark, caps, name, prefs=None, keylog=None):
    cap = caps["by_name"][name]
    d = caps["dir"]
    args = ["-o", f"wacall.keylog_file:{os.path.join(d, keylog or cap['keylog'])}"]
    for k, v in (prefs if prefs is not None else cap.get("prefs", {})).items():
        args += ["-o", f"{k}:{v}"]
    rows = fields(tshark, os.path.join(d, cap["pcap"]), FIELDS, *args)
    return cap, {k: dict(zip(FIELDS, v)) for k, v in rows.items()}


@pytest.mark.parametrize("name", HBH)
def test_hbh_layer_removed_then_e2e_decrypted(tshark, caps, name):
    cap, rows = run(tshark, caps, name)
    n_rtp = n_rtcp = n_tag4 = 0
    for f in cap["frames"]:
        r = rows[f["frame"]]
        if f["kind"] == "rtp":
            if f["expect_decrypted"]:
                assert r["warp.decrypted"] == ["1"], f
                assert r["rtp.payload"][0].replace(":", "") == f["payload_hex"]
                assert r["warp.hbh.tag_len"] == [str(f["hbh_tag_len"])]
                n_rtp += 1
                n_tag4 += f["hbh_tag_len"] == 4
            else:  # the forged HBH tag: Bad, nothing decrypted, no plaintext
                assert r["warp.decrypted"] == ["0"] and r["warp.hbh.status"] == ["0"] and not r["rtp.payload"], f
        else:
            assert r["warp.decrypted"] == ["1"] and r["rtcp.pt"] == ["200"], f
            n_rtcp += 1
    assert n_rtp >= 90 and n_rtcp >= 4 and n_tag4 >= 10


@pytest.mark.parametrize("name", HBH)
def test_hbh_wrong_setting_never_shows_plaintext(tshark, caps, name):
    cap = caps["by_name"][name]
    wrong = [{}, {"warp.hbh": "hkdf_shared" if cap["hbh_mode"] == "rfc3711" else "rfc3711",
                  "warp.hbh_mi": cap["mi_placement"]},
             {"warp.hbh": cap["prefs"]["warp.hbh"], "warp.hbh_mi": "outside" if cap["mi_placement"] == "inside" else "inside"}]
    for i, prefs in enumerate(wrong):
        _, rows = run(tshark, caps, name, prefs=prefs)
        for f in cap["frames"]:
            if i == 2 and f["kind"] == "rtcp":
                continue  # the MI position concerns RTP only: SRTCP has no MI
            r = rows[f["frame"]]
            assert r["warp.decrypted"] == ["0"] and not r["rtp.payload"], (prefs, f)


def test_group_call_epochs(tshark, caps):
    cap, rows = run(tshark, caps, "media-group")
    per_epoch = {1: 0, 2: 0}
    participants = set()
    for f in cap["frames"]:
        r = rows[f["frame"]]
        assert r["warp.decrypted"] == ["1"], f
        assert r["rtp.payload"][0].replace(":", "") == f["payload_hex"]
        assert r["warp.epoch"] == [str(f["epoch"])] and r["warp.key"] == ["1"]
        per_epoch[f["epoch"]] += 1
        participants.add(r["warp.participant"][0])
    assert per_epoch[1] >= 60 and per_epoch[2] >= 50 and len(participants) == 3


def test_group_call_missing_epoch_stays_encrypted(tshark, caps):
    cap, rows = run(tshark, caps, "media-group", keylog=caps["by_name"]["media-group"]["keylog_epoch1_only"])
    for f in cap["frames"]:
        r = rows[f["frame"]]
        if f["epoch"] == 1:
            assert r["warp.decrypted"] == ["1"], f
        else:
            assert r["warp.decrypted"] == ["0"] and not r["rtp.payload"], f


def test_group_two_pass_same_as_one_pass(tshark, caps):
    cap = caps["by_name"]["media-group"]
    d = caps["dir"]
    args = ["-o", f"wacall.keylog_file:{os.path.join(d, cap['keylog'])}"]
    one = fields(tshark, os.path.join(d, cap["pcap"]), ["warp.epoch", "rtp.payload"], *args)
    two = fields(tshark, os.path.join(d, cap["pcap"]), ["warp.epoch", "rtp.payload"], "-2", *args)
    assert one == two and len(one) == len(cap["frames"])


def test_web_datachannel_over_dtls(tshark, caps):
    """DataChannel messages in decrypted DTLS go through the same demux: STUN to wastun, WARP RTP
    decrypted to the generator's plaintext; without the DTLS keys nothing is claimed."""
    cap = caps["by_name"]["media-dtls"]
    d = caps["dir"]
    pcap = os.path.join(d, cap["pcap"])
    wa = ["-o", f"wacall.keylog_file:{os.path.join(d, cap['keylog'])}"]
    tls = ["-o", f"tls.keylog_file:{os.path.join(d, cap['tls_keylog'])}"]
    rows = fields(tshark, pcap, ["warp.decrypted", "rtp.payload", "sctp.data_payload_proto_id", "wastun.type"], *wa, *tls)
    n_rtp = 0
    for f in cap["frames"]:
        decrypted, payload, ppid, stun_type = rows[f["frame"]]
        assert ppid == ["53"], f
        if f["kind"] == "stun":
            assert stun_type, f
        else:
            assert decrypted == ["1"] and payload[0].replace(":", "") == f["payload_hex"], f
            n_rtp += 1
    assert n_rtp == 60
    bare = fields(tshark, pcap, ["warp.decrypted", "wastun.type"], *wa)
    assert all(not v[0] and not v[1] for v in bare.values())


def test_mid_call_two_calls_both_devices(tshark, caps):
    """Captured mid-call (ROC 1-3, no signaling, no STUN), two calls interleaved, call A seen on
    both devices' flows: every packet decrypts to its plaintext with the right call, and the
    result is the same in one pass, two passes and per call."""
    cap = caps["by_name"]["media-midcall"]
    d = caps["dir"]
    pcap = os.path.join(d, cap["pcap"])
    keys = ["-o", f"wacall.keylog_file:{os.path.join(d, cap['keylog'])}", "-o", "warp.srtp_details:TRUE"]
    names = ["warp.decrypted", "rtp.payload", "warp.call_id", "warp.roc"]
    one = fields(tshark, pcap, names, *keys)
    for f in cap["frames"]:
        dec, payload, call_id, roc = one[f["frame"]]
        assert dec == ["1"] and payload[0].replace(":", "") == f["payload_hex"], f
        assert call_id == [f["call_id"]] and roc == [str(f["roc"])], (f, roc)
    assert len({f["roc"] for f in cap["frames"]}) >= 4  # 0, 1, 2, 3 and the wrap to 4
    assert fields(tshark, pcap, names, "-2", *keys) == one
