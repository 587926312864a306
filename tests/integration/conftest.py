"""Runs tshark/sharkd with the plugin just built (never an installed copy) over generated captures.

As root, Wireshark ignores WIRESHARK_PLUGIN_DIR, so root runs inside a user namespace where it
appears as uid 1000 (scripts/tshark-dev.sh). Captures come from the independent generator in
test-pcaps/gen, written afresh into the build tree for every run.
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("WACALL_BUILD_DIR", os.path.join(ROOT, "build"))
RUNNER = os.path.join(ROOT, "scripts", "tshark-dev.sh")
STOCK_RUNNER = os.path.join(ROOT, "scripts", "tshark-stock.sh")  # tshark with no wacall at all
REAL = os.path.join(os.path.dirname(ROOT), "shared", "data", "real-captures")
# The Wireshark major.minor the plugin was built for (the build writes it): plugins/<WS_ABI>/.
with open(os.path.join(BUILD, "ws-abi.txt")) as _f:
    WS_ABI = _f.read().strip()
WS_VERSION = tuple(int(x) for x in WS_ABI.split("."))
if not os.path.isdir(REAL):
    REAL = os.path.join(ROOT, "test-pcaps", "real")


def run_tool(args, tool="tshark", input_text=None, check=True, stock=False):
    env = dict(os.environ, WACALL_BUILD_DIR=BUILD, WACALL_TOOL=tool)
    p = subprocess.run([STOCK_RUNNER if stock else RUNNER, *map(str, args)], capture_output=True, text=True, env=env, timeout=300,
                       input=input_text)
    if check and p.returncode != 0:
        raise AssertionError(f"{tool} {args} -> {p.returncode}\n{p.stderr}")
    return p


@pytest.fixture(scope="session")
def caps():
    out = os.path.join(BUILD, "test-pcaps")
    os.makedirs(out, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "test-pcaps", "gen", "make_all.py"), out], check=True,
                   capture_output=True, timeout=600)
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    manifest["by_name"] = {c["name"]: c for c in manifest["captures"]}
    manifest["dir"] = out
    return manifest


@pytest.fixture(scope="session")
def tshark():
    return lambda *args, **kw: run_tool(args, **kw)


@pytest.fixture(scope="session")
def stock_tshark():
    return lambda *args, **kw: run_tool(args, stock=True, **kw)


@pytest.fixture(scope="session")
def sharkd():
    def run(requests):
        data = "".join(json.dumps(r) + "\n" for r in requests)
        p = run_tool(["-"], tool="sharkd", input_text=data, check=False)
        out = {}
        for line in p.stdout.splitlines():
            if line.startswith("{"):
                msg = json.loads(line)
                out[msg.get("id")] = msg
        return out
    return run


BOOLEANS = {"True": "1", "False": "0"}


def fields(tshark, pcap, names, *extra, dfilter=None):
    """Rows of -T fields output: {frame.number: [values per field (lists of occurrences)]}.
    Booleans read 1/0 on every version (4.0 prints 1/0, 4.2 and later True/False)."""
    args = ["-r", pcap, *extra, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", "-e", "frame.number"]
    for n in names:
        args += ["-e", n]
    if dfilter:
        args += ["-Y", dfilter]
    rows = {}
    for line in tshark(*args).stdout.splitlines():
        parts = line.split("\t")
        rows[int(parts[0])] = [[BOOLEANS.get(v, v) for v in p.split("|")] if p else [] for p in parts[1:]]
    return rows
