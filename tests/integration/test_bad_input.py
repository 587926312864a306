"""Bad input gets a clear message and nothing is silently lost (issue 16, docs/reliability.md).

Key logs a new user may hand over (missing, a directory, a FIFO, unreadable, with a byte-order
mark, UTF-16, thousands of bad lines, a wrong key corrected by a later line), display filters on
every registered field, and bad -z arguments. Each test names what the user sees: the message on
tshark's stderr, tshark's exit status, and what still decrypts.
"""
import collections
import os
import re
import stat

import pytest

from conftest import RUNNER, run_tool

PROTOS = ("wanoise", "wabinary", "wacall", "wastun", "warp")


def cap_paths(caps, name):
    cap = caps["by_name"][name]
    return os.path.join(caps["dir"], cap["pcap"]), os.path.join(caps["dir"], cap["keylog"])


def count(tshark, pcap, keylog, dfilter):
    p = tshark("-r", pcap, "-o", f"wacall.keylog_file:{keylog}", "-Y", dfilter)
    return len(p.stdout.splitlines()), p.stderr


def keylog_messages(stderr):
    return [l for l in stderr.splitlines() if "wacall key log:" in l]


# ---- the key log file itself -------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "unreadable"])
def test_unusable_keylog_file_is_reported_once_with_its_reason(tshark, caps, tmp_path, kind):
    pcap, _ = cap_paths(caps, "sig-tcp443")
    path = tmp_path / "keys.log"
    reason = {"missing": "cannot open key log file: No such file or directory",
              "directory": "key log path is a directory",
              "fifo": "key log path is not a regular file (FIFO, device or socket)",
              "unreadable": "cannot read key log file: Permission denied"}[kind]
    if kind == "missing":
        path = tmp_path / "no" / "keys.log"
    elif kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # never opened: reading it would block tshark until a writer came
    else:
        path.write_text("WA_CALL_KEY x " + "00" * 32 + "\n")
        path.chmod(0)
    p = tshark("-r", pcap, "-o", f"wacall.keylog_file:{path}")
    msgs = keylog_messages(p.stderr)
    assert msgs == [f"tshark: wacall key log: {path}: {reason}"], p.stderr
    assert len(p.stdout.splitlines()) == caps["by_name"]["sig-tcp443"]["pcap_frames"]


def test_utf8_byte_order_mark_is_skipped(tshark, caps, tmp_path):
    pcap, keylog = cap_paths(caps, "call-full")
    plain = count(tshark, pcap, keylog, "wanoise.decrypted == 1 || warp.decrypted == 1")[0]
    # The call key first, so a BOM glued to its label would lose every WARP packet.
    lines = [l for l in open(keylog).read().splitlines() if l and not l.startswith("#")]
    lines.sort(key=lambda l: not l.startswith("WA_CALL_KEY"))
    bom = tmp_path / "bom.keys"
    bom.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    n, err = count(tshark, pcap, bom, "wanoise.decrypted == 1 || warp.decrypted == 1")
    assert keylog_messages(err) == [], err
    assert n == plain and n > 600


@pytest.mark.parametrize("encoding,label", [("utf-16", "UTF-16LE"), ("utf-16-be", "UTF-16BE")])
def test_utf16_keylog_is_read_and_said(tshark, caps, tmp_path, encoding, label):
    pcap, keylog = cap_paths(caps, "call-full")
    plain = count(tshark, pcap, keylog, "wanoise.decrypted == 1 || warp.decrypted == 1")[0]
    u16 = tmp_path / "u16.keys"
    u16.write_bytes(open(keylog).read().replace("\n", "\r\n").encode(encoding))  # utf-16: BOM; utf-16-be: none
    n, err = count(tshark, pcap, u16, "wanoise.decrypted == 1 || warp.decrypted == 1")
    assert n == plain
    assert keylog_messages(err) == [
        f"tshark: wacall key log: {u16}: key log is {label} text; read as UTF-16 (UTF-8 or ASCII is expected)"], err


def test_control_bytes_in_a_label_are_shown_escaped(tshark, caps, tmp_path):
    pcap, _ = cap_paths(caps, "sig-tcp443")
    kl = tmp_path / "nul.keys"
    kl.write_bytes(b"WA_\x00CALL_KEY x y\n\xef\xbb\xbf\n")  # a NUL; a BOM that is not on line 1
    p = tshark("-r", pcap, "-o", f"wacall.keylog_file:{kl}", "-c", "1")
    assert keylog_messages(p.stderr) == [
        f'tshark: wacall key log: {kl}:1: unknown label "WA_\\x00CALL_KEY"',
        f'tshark: wacall key log: {kl}:2: unknown label "\\xef\\xbb\\xbf"'], p.stderr


def test_past_the_cap_the_rest_is_counted_and_later_problems_still_shown(tshark, caps, tmp_path):
    pcap, keylog = cap_paths(caps, "media-only")
    _, wrong = cap_paths(caps, "media-wrongkey")
    good = [l for l in open(keylog).read().splitlines() if l and not l.startswith("#")]
    wrong_key = [l for l in open(wrong).read().splitlines() if l.startswith("WA_CALL_KEY")]
    kl = tmp_path / "garbage.keys"
    kl.write_text("".join(f"WA_BOGUS {i}\n" for i in range(1500)) + "\n".join(wrong_key + good) + "\n")
    n, err = count(tshark, pcap, kl, "warp.decrypted == 1")
    msgs = keylog_messages(err)
    assert sum(": unknown label" in m for m in msgs) == 1000
    assert f"tshark: wacall key log: {kl}: 500 more problem(s) not shown (only the first 1000 of each kind are)" in msgs
    # The disagreeing call key after the garbage is still said, and the corrected key wins.
    assert any(m.startswith(f"tshark: wacall key log: {kl}:1502: call key for call-id ") and "differs from line 1501" in m
               for m in msgs), msgs
    assert n == count(tshark, pcap, keylog, "warp.decrypted == 1")[0] and n > 600


# ---- disagreeing keys: every candidate is tried, the one that authenticates wins -----------------

def test_wrong_call_key_corrected_by_a_later_line_decrypts_and_names_the_line(tshark, caps, tmp_path):
    pcap, keylog = cap_paths(caps, "media-only")
    _, wrong = cap_paths(caps, "media-wrongkey")
    call_id = caps["by_name"]["media-only"]["call_id"]
    kl = tmp_path / "corrected.keys"
    kl.write_text("".join(l for l in open(wrong) if l.startswith("WA_CALL_KEY")) + open(keylog).read())
    good_line = 1 + [i for i, l in enumerate(open(kl).read().splitlines()) if l.startswith("WA_CALL_KEY")][1]
    want = count(tshark, pcap, keylog, "warp.decrypted == 1")[0]
    assert count(tshark, pcap, wrong, "warp.decrypted == 1")[0] == 0
    n, err = count(tshark, pcap, kl, "warp.decrypted == 1")
    assert n == want and n > 600
    assert keylog_messages(err) == [
        f"tshark: wacall key log: {kl}:{good_line}: call key for call-id {call_id} differs from line 1; both are "
        "tried and the one that authenticates is used",
        f"tshark: wacall key log: {kl}:{good_line}: call key for call-id {call_id} authenticated the call's media "
        "(2 differing values were tried)"], err


@pytest.mark.parametrize("name,label,what", [("sig-tcp443", "WA_NOISE_TRAFFIC", "the Noise session"),
                                             ("sig-tcp5222-private", "WA_NOISE_PRIVATE", "the Noise handshake")])
def test_wrong_noise_keys_before_the_right_ones_still_decrypt(tshark, caps, tmp_path, name, label, what):
    pcap, keylog = cap_paths(caps, name)
    right = [l for l in open(keylog).read().splitlines() if l.startswith(label)]
    f = right[0].split()
    kl = tmp_path / "noise.keys"
    kl.write_text(f"{label} {f[1]} {'11' * 32} {'22' * 32}\n" + "\n".join(right) + "\n")
    want = count(tshark, pcap, keylog, "wanoise.decrypted == 1")[0]
    n, err = count(tshark, pcap, kl, "wanoise.decrypted == 1")
    assert n == want and n > 5
    assert keylog_messages(err) == [
        f"tshark: wacall key log: {kl}:2: {label} differs from line 1 for the same public key; both are tried and "
        "the one that authenticates is used",
        f"tshark: wacall key log: {kl}:2: {label} authenticated {what} (2 differing values were tried)"], err


# ---- display filters: every field takes a comparison of its type ---------------------------------

def our_fields():
    p = run_tool(["-G", "fields"])
    rows = [l.split("\t") for l in p.stdout.splitlines()]
    return [r for r in rows if r[0] == "F" and len(r) >= 5 and r[4] in PROTOS]


def expert_names():
    """Expert item names from the ei_register_info arrays (4.0's tshark has no -G expert; the
    registry keeps one entry per name, so a field and an expert item of the same name show once)."""
    src = os.path.join(os.path.dirname(RUNNER), "..", "dissectors")
    names = []
    for f in sorted(os.listdir(src)):
        names += re.findall(r'\{\s*&ei_\w+\s*,\s*\{\s*"([^"]+)"\s*,\s*PI_', open(os.path.join(src, f)).read())
    return names


def test_no_field_name_is_shared_by_a_field_and_an_expert_item():
    experts = expert_names()
    assert len(experts) > 30 and len(set(experts)) == len(experts)
    fields = collections.Counter(r[2] for r in our_fields() if r[3] != "FT_NONE" or r[2] not in experts)
    assert sorted(n for n in experts if n in fields) == []
    assert [n for n, c in fields.items() if c > 1] == []
    registered = {r[2] for r in our_fields()}
    assert [n for n in experts if n not in registered] == []


VALUE = {"FT_BOOLEAN": "1", "FT_UINT8": "0", "FT_UINT16": "0", "FT_UINT24": "0", "FT_UINT32": "404",
         "FT_UINT64": "0", "FT_INT8": "-1", "FT_INT16": "-1", "FT_INT32": "-1", "FT_INT64": "-1",
         "FT_FRAMENUM": "1", "FT_STRING": '"x"', "FT_STRINGZ": '"x"', "FT_BYTES": "00:01",
         "FT_IPv4": "192.0.2.1", "FT_IPv6": "2001:db8::1", "FT_ABSOLUTE_TIME": '"2023-11-14 22:13:20"',
         "FT_RELATIVE_TIME": "0.5", "FT_DOUBLE": "0.5", "FT_FLOAT": "0.5"}


def test_every_registered_field_takes_a_comparison_of_its_type(sharkd):
    fields = our_fields()
    assert len(fields) > 200
    filters = []
    for r in fields:
        name, ftype = r[2], r[3]
        if ftype in ("FT_NONE", "FT_PROTOCOL"):
            filters.append(name)  # no value: presence is the comparison
        else:
            assert ftype in VALUE, f"{name}: no test value for {ftype}"
            filters.append(f"{name} == {VALUE[ftype]}")
    out = sharkd([{"jsonrpc": "2.0", "id": i, "method": "check", "params": {"filter": f}}
                  for i, f in enumerate(filters, 1)])
    rejected = {f: out.get(i, {}).get("error") for i, f in enumerate(filters, 1) if "result" not in out.get(i, {})}
    assert rejected == {}


def test_ack_error_filters_by_code(tshark, caps):
    pcap, keylog = cap_paths(caps, "sig-ack-error")
    want = caps["by_name"]["sig-ack-error"]["ack_error"]
    p = tshark("-r", pcap, "-o", f"wacall.keylog_file:{keylog}", "-Y", f"wacall.ack.error == {want['code']}",
               "-T", "fields", "-e", "wacall.ack.error", "-e", "wacall.ack.error_text", "-e", "_ws.expert.message")
    assert p.stdout.splitlines() == [f"{want['code']}\t{want['text']}\tCall ack carries error 404 item-not-found"]
    p = tshark("-r", pcap, "-o", f"wacall.keylog_file:{keylog}", "-Y", "wacall.ack.error.expert", "-T", "fields",
               "-e", "frame.number")
    assert len(p.stdout.splitlines()) == 1
    assert tshark("-r", pcap, "-o", f"wacall.keylog_file:{keylog}", "-Y", "wacall.ack.error == 403").stdout == ""


def test_fields_doc_lists_the_fields_and_the_renamed_expert_items():
    doc = open(os.path.join(os.path.dirname(RUNNER), "..", "docs", "fields.md")).read()
    assert "| `wacall.ack.error` | Ack error code | FT_UINT32 |" in doc
    assert "| `wabinary.depth` | Depth | FT_UINT8 |" in doc
    assert "| `wacall.ack.error.expert` | response_code | warn |" in doc
    assert "| `wabinary.depth.expert` | undecoded | note |" in doc


# ---- -z arguments ---------------------------------------------------------------------------------

@pytest.mark.parametrize("z,message,usage", [
    ("wacall,calls,extra", 'Couldn\'t register wacall,calls tap: Filter "extra" is invalid', "-z wacall,calls[,FILTER]"),
    ("wacall,callsx", 'invalid -z argument "wacall,callsx"', "-z wacall,calls[,FILTER]"),
    ("wacall,voip,foo", '-z wacall,voip takes no arguments, got "foo"', "-z wacall,voip"),
    ("wacall,voipx", 'invalid -z argument "wacall,voipx"', "-z wacall,voip"),
    ("wacall,corpus,a.yaml,b.yaml", 'unexpected argument "b.yaml"', "-z wacall,corpus[,FILE]"),
])
def test_bad_z_arguments_are_refused_with_a_usage_line(tshark, caps, z, message, usage):
    pcap, _ = cap_paths(caps, "sig-tcp443")
    p = tshark("-r", pcap, "-q", "-z", z, check=False)
    assert p.returncode == 1, p
    assert message in p.stderr and f"usage: {usage}" in p.stderr, p.stderr
    assert p.stdout == ""


def test_good_z_arguments_still_work(tshark, caps):
    pcap, keylog = cap_paths(caps, "sig-tcp443")
    for z in ("wacall,calls", "wacall,calls,wacall", "wacall,voip"):
        p = tshark("-r", pcap, "-o", f"wacall.keylog_file:{keylog}", "-q", "-z", z)
        assert p.returncode == 0 and p.stderr == "" and p.stdout.strip(), z


@pytest.mark.parametrize("where,reason", [("missing-dir", "No such file or directory"), ("directory", "Is a directory")])
def test_corpus_output_that_cannot_be_opened_is_named_with_its_reason(tshark, caps, tmp_path, where, reason):
    pcap, keylog = cap_paths(caps, "sig-tcp443")
    target = tmp_path / "no" / "such" / "x.yaml" if where == "missing-dir" else tmp_path
    p = tshark("-r", pcap, "-o", f"wacall.keylog_file:{keylog}", "-q", "-z", f"wacall,corpus,{target}", check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == f"tshark: wacall corpus: cannot write {target}: {reason}"
    assert "written" not in p.stdout


def test_corpus_write_error_at_the_end_is_named_and_exits_non_zero(tshark, caps):
    if not os.path.exists("/dev/full") or not stat.S_ISCHR(os.stat("/dev/full").st_mode):
        pytest.skip("no /dev/full")
    pcap, keylog = cap_paths(caps, "sig-tcp443")
    p = tshark("-r", pcap, "-o", f"wacall.keylog_file:{keylog}", "-q", "-z", "wacall,corpus,/dev/full", check=False)
    assert p.returncode == 2
    assert p.stderr.strip() == "tshark: wacall corpus: cannot write /dev/full: No space left on device"


def test_corrected_call_key_appended_while_the_capture_is_read_decrypts_what_follows(tshark, caps, tmp_path):
    """The live workflow: tshark reads a capture as it arrives (a pipe) with a wrong call key;
    the corrected line is appended half-way; the packets after it decrypt."""
    import struct
    import subprocess
    import time
    pcap, keylog = cap_paths(caps, "media-only")
    _, wrong = cap_paths(caps, "media-wrongkey")
    call_id = caps["by_name"]["media-only"]["call_id"]
    data = open(pcap, "rb").read()
    assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4  # classic little-endian pcap
    records, pos = [], 24
    while pos < len(data):
        caplen = struct.unpack("<I", data[pos + 8:pos + 12])[0]
        records.append(data[pos:pos + 16 + caplen])
        pos += 16 + caplen
    half = len(records) // 2
    kl = tmp_path / "live.keys"
    good = open(keylog).read()
    kl.write_text("".join(l for l in open(wrong) if l.startswith("WA_CALL_KEY")) +
                  "".join(l for l in good.splitlines(True) if not l.startswith("WA_CALL_KEY")))
    env = dict(os.environ, WACALL_BUILD_DIR=os.environ.get("WACALL_BUILD_DIR", os.path.join(os.path.dirname(RUNNER), "..", "build")))
    p = subprocess.Popen([RUNNER, "-r", "-", "-l", "-o", f"wacall.keylog_file:{kl}", "-Y", "warp",
                          "-T", "fields", "-e", "frame.number", "-e", "warp.decrypted"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    p.stdin.write(data[:24] + b"".join(records[:half]))
    p.stdin.flush()
    # Wait until tshark has shown the first half, then correct the key log.
    first = []
    deadline = time.time() + 60
    while time.time() < deadline:
        line = p.stdout.readline().decode()
        if not line:
            break
        first.append(line.split())
        if int(first[-1][0]) >= half - 5:
            break
    with open(kl, "a") as f:
        f.write("".join(l for l in good.splitlines(True) if l.startswith("WA_CALL_KEY")))
    time.sleep(0.1)  # a different mtime is not needed: the size changes
    p.stdin.write(b"".join(records[half:]))
    p.stdin.close()
    rest = [l.split() for l in p.stdout.read().decode().splitlines()]
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 0
    before = [r for r in first if len(r) == 2]
    after = {int(r[0]): r[1] for r in rest if len(r) == 2 and int(r[0]) > half}
    assert before and all(r[1] in ("0", "False") for r in before)  # the wrong key: nothing decrypted
    # After the correction, exactly what the right key alone decrypts (the capture's two
    # deliberately corrupted packets stay ciphertext either way).
    ref = {int(r[0]): r[1] for r in (l.split() for l in tshark(
        "-r", pcap, "-o", f"wacall.keylog_file:{keylog}", "-Y", "warp", "-T", "fields", "-e", "frame.number",
        "-e", "warp.decrypted").stdout.splitlines()) if len(r) == 2 and int(r[0]) > half}
    assert len(after) > 300 and after == ref
    assert sum(v in ("1", "True") for v in after.values()) >= len(after) - 1  # 4.2+ prints True
    assert f"call key for call-id {call_id} authenticated the call's media (2 differing values were tried)" in err, err


def test_wrong_group_epochs_before_the_right_ones_still_decrypt(tshark, caps, tmp_path):
    pcap, keylog = cap_paths(caps, "media-group")
    call_id = caps["by_name"]["media-group"]["call_id"]
    lines, bad_lines = [], {}
    for l in open(keylog).read().splitlines():
        if l.startswith("WA_CALL_EPOCH"):
            f = l.split()
            lines.append(f"WA_CALL_EPOCH {f[1]} {f[2]} {'33' * 32}")
            bad_lines[f[2]] = len(lines) + 1  # the right line follows the wrong one
        lines.append(l)
    kl = tmp_path / "group.keys"
    kl.write_text("\n".join(lines) + "\n")

    def epochs(k):
        p = tshark("-r", pcap, "-o", f"wacall.keylog_file:{k}", "-Y", "warp.decrypted == 1", "-T", "fields",
                   "-e", "warp.epoch")
        return collections.Counter(p.stdout.split()), p.stderr

    want, _ = epochs(keylog)
    got, err = epochs(kl)
    assert got == want and set(want) == {"1", "2"} and sum(want.values()) > 100
    for tx, line in bad_lines.items():
        assert (f"tshark: wacall key log: {kl}:{line}: WA_CALL_EPOCH for call-id {call_id} transaction {tx} "
                "authenticated the call's media (2 differing values were tried)") in err, err
