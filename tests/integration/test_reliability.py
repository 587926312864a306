"""Hostile signaling behind a valid Noise session (issue 5): zlib bombs, a bomb of tiny nodes,
nesting 1,000 deep, declared sizes of up to 4 GiB; then relay datagrams with lengths and counts
that overrun them (test-pcaps/gen/make_hostile.py). Each bad frame must end in its expert item and
a readable tree (no Wireshark exception, no "Malformed Packet"), in bounded time, and the session
must go on decoding the call stanzas after them."""
import json
import os
import re
import subprocess
import sys
import time

import pytest

from conftest import BUILD, ROOT


@pytest.fixture(scope="module")
def hostile():
    out = os.path.join(BUILD, "test-pcaps-hostile")
    subprocess.run([sys.executable, os.path.join(ROOT, "test-pcaps", "gen", "make_hostile.py"), out], check=True,
                   capture_output=True, timeout=300)
    with open(os.path.join(out, "hostile.json")) as f:
        spec = json.load(f)
    return out, spec


@pytest.mark.parametrize("two_pass", [False, True])
def test_hostile_frames_end_in_expert_items(tshark, hostile, two_pass):
    d, spec = hostile
    args = ["-r", os.path.join(d, "sig-hostile.pcap"), "-o", "wacall.keylog_file:" + os.path.join(d, "sig-hostile.keys"),
            "-V"]
    if two_pass:
        args.append("-2")
    t0 = time.monotonic()
    out = tshark(*args).stdout
    assert time.monotonic() - t0 < 120
    experts = re.findall(r"\[Expert Info \(Error/Malformed\): (.*)\]", out)
    for bad in spec["bad_frames"]:
        assert any(bad["expert"] in e for e in experts), (bad, experts)
    for text in spec["media_experts"]:
        assert any(text in e for e in experts), (text, experts)
    # Our expert items, not an exception thrown while building the tree.
    assert not re.search(r"\[Malformed Packet: (WABINARY|WACALL|WANOISE|WASTUN|WARP)\]", out), \
        re.findall(r".*Malformed Packet.*", out)
    assert "Dissector bug" not in out
    for action in spec["good_actions"]:
        assert re.search(r"WhatsApp Call Signaling, Call %s call-id=" % action, out), action


def test_hostile_frames_in_the_summary_view(tshark, hostile):
    d, spec = hostile
    rows = tshark("-r", os.path.join(d, "sig-hostile.pcap"), "-o",
                  "wacall.keylog_file:" + os.path.join(d, "sig-hostile.keys"), "-Y", "_ws.expert.severity == error",
                  "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message").stdout.splitlines()
    assert len(rows) >= len(spec["bad_frames"])
