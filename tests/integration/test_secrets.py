"""Secrets from the key log never reach the tree, the columns or the exports unless a preference
asks for them: no call key, Noise traffic or private key, epoch or hop-by-hop key, and no key
derived from them (the SRTP master keys), in PDML (every field value) or the -V text."""
import os
import re
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "test-pcaps", "gen"))
import srtp_ref as sr  # noqa: E402  (the generator's independent WAHKDF)

CAPTURES = ["sig-tcp443", "sig-tcp5222-private", "call-full", "media-group", "media-hbh", "sample/call"]


def secrets_of(keylog_path):
    """Hex secrets of a key log (lower case) and the SRTP master keys they derive."""
    out, call_keys, participants = set(), {}, {}
    for line in open(keylog_path):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        if f[0] in ("WA_NOISE_TRAFFIC", "WA_NOISE_PRIVATE"):
            out.update(x.lower() for x in f[2:4])  # f[1] is the client ephemeral PUBLIC key: on the wire
        elif f[0] in ("WA_CALL_KEY", "WA_HBH_KEY"):
            out.add(f[2].lower())
            if f[0] == "WA_CALL_KEY":
                call_keys.setdefault(f[1], []).append(bytes.fromhex(f[2]))
        elif f[0] == "WA_CALL_EPOCH":
            out.add(f[3].lower())
            call_keys.setdefault(f[1], []).append(bytes.fromhex(f[3]))
        elif f[0] == "WA_PARTICIPANT":
            participants.setdefault(f[1], []).append(f[2])
    derived = set()
    for cid, keys in call_keys.items():
        for k in keys:
            for j in participants.get(cid, []):
                mk, salt = sr.wahkdf(k, sr.participant_id(j))
                derived.add(mk.hex())
    return out, derived


def run(tshark, caps, name, *extra):
    cap = caps["by_name"][name]
    d = caps["dir"]
    args = ["-r", os.path.join(d, cap["pcap"]), "-o", f"wacall.keylog_file:{os.path.join(d, cap['keylog'])}"]
    if cap.get("tls_keylog"):
        args += ["-o", f"tls.keylog_file:{os.path.join(d, cap['tls_keylog'])}"]
    for k, v in cap.get("prefs", {}).items():
        args += ["-o", f"{k}:{v}"]
    return cap, args


@pytest.mark.parametrize("name", CAPTURES)
def test_no_key_log_secret_in_any_output(tshark, caps, name):
    cap, args = run(tshark, caps, name)
    secrets, derived = secrets_of(os.path.join(caps["dir"], cap["keylog"]))
    assert secrets
    text = (tshark(*args, "-T", "pdml").stdout + tshark(*args, "-V").stdout).lower()
    text = re.sub(r"[:\s]", "", text) + text  # also catch colon- or space-separated renderings
    assert "wacall" in text or "warp" in text  # the plugin did dissect
    for s in secrets | derived:
        assert s not in text, f"secret {s[:8]}... printed"


def test_show_keys_preference_prints_the_master_keys(tshark, caps):
    cap, args = run(tshark, caps, "media-group")
    secrets, derived = secrets_of(os.path.join(caps["dir"], cap["keylog"]))
    out = tshark(*args, "-o", "warp.show_keys:TRUE", "-T", "fields", "-e", "warp.keys.master_key").stdout
    shown = {v.replace(":", "") for v in out.split()}
    assert shown <= derived and len(shown) == 6  # three senders, two epochs each
