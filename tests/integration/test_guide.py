"""Issue 14, point 5: every command in the user guide and the README works as written, and every
output the guide shows is what the command prints.

docs/user-guide.md marks each fenced block with an HTML comment on the line before it (invisible
on GitHub); the convention is also written at the top of the guide:

    <!-- guide-test: run -->             the block is run with bash from the repository root;
                                         `tshark` is the build tree's (scripts/tshark-dev.sh, as
                                         everywhere in this suite), $P and $K are the sample
                                         capture and key log, /tmp/ is a scratch folder
    <!-- guide-test: output -->          exactly what the last `run` block prints on stdout
    <!-- guide-test: output excerpt -->  a part of it, which may start and end anywhere
    <!-- guide-test: stderr -->          exactly what it prints on stderr
    <!-- guide-test: file PATH -->       the content of PATH (from the repository root)

What may vary: in expected text, a line that is only `…` (indentation allowed) stands for any
number of lines, and `…` inside a line for any text on that line (e.g. the checkout's path);
trailing spaces and blank lines at either end are ignored. Everything else must match. A run
block must exit 0, and a stream the guide shows no block for (usually stderr) must be empty.

Every fenced block of the guide either carries a marker or is listed in SKIPPED below with the
reason it cannot run here; a block that is neither, or a SKIPPED entry that matches no block,
fails the test. README.md carries no markers and shows no output: each of its ```sh blocks is
run command by command, as written, in a scratch folder holding `call.pcap`/`call.keys` (the
sample) and `scripts/`, and must exit 0 with nothing on stderr (its demo/test block is skipped
like the guide's, and its layout block is no command).
"""
import difflib
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field

import pytest

from conftest import BUILD, ROOT, RUNNER, STOCK_RUNNER

GUIDE = "docs/user-guide.md"
README = "README.md"
SAMPLE_PCAP = "test-pcaps/sample/call.pcap"
SAMPLE_KEYS = "test-pcaps/sample/call.keys"
CALL_ID = "8D2E5F0A1B3C4D6E7F8091A2B3C4D5E6"

_DEMO = "# Set up (apt: the plugin's packages and the Wireshark GUI), build, install the plugin where this"
_DEMO_WHY = ("installs packages with apt-get and the plugin (system-wide as root); scripts/test.sh runs "
             "the whole test suite, this test included")
# (document, first line of the block) -> why the block is not run here.
SKIPPED = {
    (GUIDE, _DEMO): _DEMO_WHY,
    (GUIDE, "cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo"):
        "the build itself: this test runs on the build tree it is given (WACALL_BUILD_DIR)",
    (GUIDE, "abi=$(cat build/ws-abi.txt)"):
        "installs into the personal plugin folder of the user running the test (scripts/ws-root.sh "
        "runs scripts/demo.sh, which does the same, as a user in the Debian 13 and sid roots)",
    (GUIDE, "WACALL_TOOL=wireshark scripts/tshark-dev.sh -r test-pcaps/sample/call.pcap \\"):
        "opens the Wireshark GUI (no display here; scripts/screenshots.sh drives it under Xvfb)",
    (GUIDE, "wireshark -r test-pcaps/sample/call.pcap -o wacall.keylog_file:test-pcaps/sample/call.keys"):
        "opens the Wireshark GUI with an installed plugin (no display, nothing installed here)",
    (README, _DEMO): _DEMO_WHY,
    (README, "cmake -S . -B build -G Ninja -DWACALL_BUILD_TESTS=OFF -DWACALL_BUILD_BENCH=OFF && cmake --build build"):
        "builds and installs a .deb system-wide; scripts/ws-root.sh builds, installs and checks the .deb "
        "in the Debian 13 and sid roots",
    (README, "src/          the core: no Wireshark header (noise, wabinary, call, keys, media, crypto, report, corpus);"):
        "the source tree's layout: neither a command nor an output",
}

MARKER = re.compile(r"^\s*<!-- guide-test: (.*?) -->\s*$")
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")


@dataclass
class Block:
    doc: str
    line: int          # 1-based line of the opening fence
    lang: str
    text: str          # content, the fence's indentation removed
    marker: str = ""   # the guide-test marker on the line before, if any
    outputs: list = field(default_factory=list)   # for a run block: its output/stderr blocks

    @property
    def first_line(self):
        return self.text.split("\n", 1)[0]

    def label(self):
        return f"{self.doc}:{self.line}"


def parse(doc):
    """The fenced blocks of a markdown file, with the guide-test marker before each."""
    lines = open(os.path.join(ROOT, doc), encoding="utf-8").read().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, start = m.group(1), i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        assert i < len(lines), f"{doc}:{start + 1}: unclosed code block"
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        mk = MARKER.match(lines[j]) if j >= 0 else None
        blocks.append(Block(doc, start + 1, m.group(2), "\n".join(body), mk.group(1).strip() if mk else ""))
        i += 1
    return blocks


def guide_plan():
    """(run blocks with their outputs, file blocks, skipped blocks, problems) of the guide."""
    runs, files, skipped, problems = [], [], [], []
    last_run = None
    for b in parse(GUIDE):
        kind = b.marker.split(" ", 1)[0]
        if kind == "run":
            last_run = b
            runs.append(b)
        elif kind == "output" or kind == "stderr":
            if b.marker not in ("output", "output excerpt", "stderr"):
                problems.append(f"{b.label()}: unknown marker {b.marker!r}")
            elif last_run is None:
                problems.append(f"{b.label()}: {b.marker!r} block with no run block before it")
            else:
                last_run.outputs.append(b)
        elif kind == "file":
            files.append(b)
        elif b.marker:
            problems.append(f"{b.label()}: unknown marker {b.marker!r}")
        elif (GUIDE, b.first_line) in SKIPPED:
            skipped.append(b)
        else:
            problems.append(f"{b.label()}: block ({b.first_line!r}) is neither marked for "
                            f"guide-test nor listed in SKIPPED")
    return runs, files, skipped, problems


RUNS, FILES, _, GUIDE_PROBLEMS = guide_plan()


# ---- comparing -----------------------------------------------------------------------------------

def normalise(text):
    lines = [l.rstrip() for l in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


GAP = r"(?:[^\n]*\n)*?"


def expected_regex(expected, excerpt):
    parts = [GAP] if excerpt else []
    for l in normalise(expected):
        if l.strip() == "…":
            parts.append(GAP)
        else:
            parts.append("[^\n]*".join(re.escape(piece) for piece in l.split("…")) + "\n")
    if excerpt:
        parts.append(GAP)
    return re.compile("".join(parts))


def matches(expected, actual, excerpt=False):
    text = "".join(l + "\n" for l in normalise(actual))
    return expected_regex(expected, excerpt).fullmatch(text) is not None


def check(what, expected, actual, excerpt=False):
    """Fails with a readable report unless `actual` is what `expected` shows."""
    if matches(expected, actual, excerpt):
        return
    shown = normalise(expected)
    if excerpt:
        # the first shown line the output does not have at that point
        k = next(k for k in range(1, len(shown) + 1) if not matches("\n".join(shown[:k]), actual, True))
        pytest.fail(f"{what}: the output has no part that reads as shown; the first shown line that does "
                    f"not follow (line {k} of the block):\n  {shown[k - 1]!r}\n"
                    f"printed:\n{actual[:4000]}", pytrace=False)
    diff = "\n".join(difflib.unified_diff(shown, normalise(actual), "shown in the guide", "printed",
                                          lineterm="", n=2))
    pytest.fail(f"{what}: the output differs from what the guide shows\n{diff[:6000]}", pytrace=False)


# ---- running -------------------------------------------------------------------------------------

REAL_TSHARK = shutil.which("tshark") or "tshark"


def tool_dir(tmp_path, runner, name):
    """A folder holding a `tshark` that is `runner` (the build tree's plugin, or none at all).
    The runner itself runs the real tshark (WACALL_TOOL), not this one again."""
    assert os.path.isabs(REAL_TSHARK), "tshark is not installed"
    d = tmp_path / name
    d.mkdir()
    shim = d / "tshark"
    shim.write_text(f'#!/bin/sh\nWACALL_TOOL="{REAL_TSHARK}" exec "{runner}" "$@"\n')
    shim.chmod(0o755)
    return str(d)


def bash(script, cwd, env, timeout=300):
    """Runs a shell script in a process group of its own, killed whole if it times out."""
    p = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise AssertionError(f"timed out after {timeout} s: {script}")
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def environment(bindir, **extra):
    env = dict(os.environ, WACALL_BUILD_DIR=BUILD, **extra)
    env.pop("WACALL_TOOL", None)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def run_guide_block(block, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    script = block.text.replace("/tmp/", f"{scratch}/")
    env = environment(tool_dir(tmp_path, RUNNER, "bin"), P=SAMPLE_PCAP, K=SAMPLE_KEYS)
    p = bash(script, ROOT, env)
    back = lambda s: s.replace(f"{scratch}/", "/tmp/")
    return p.returncode, back(p.stdout), back(p.stderr)


def run_id(block):
    return f"L{block.line}:{block.first_line[:60]}"


@pytest.mark.parametrize("block", RUNS, ids=run_id)
def test_guide_command_prints_what_the_guide_shows(block, tmp_path):
    rc, out, err = run_guide_block(block, tmp_path)
    assert rc == 0, f"{block.label()}: exit status {rc}\n{block.text}\nstderr:\n{err}"
    shown = {"stdout": [], "stderr": []}
    for o in block.outputs:
        shown["stderr" if o.marker == "stderr" else "stdout"].append(o)
    for stream, actual in (("stdout", out), ("stderr", err)):
        if not shown[stream]:
            assert not actual.strip(), f"{block.label()}: unexpected {stream}:\n{actual[:3000]}"
        for o in shown[stream]:
            check(f"{o.label()} ({stream} of {block.label()})", o.text, actual, excerpt=o.marker == "output excerpt")


@pytest.mark.parametrize("block", FILES, ids=lambda b: f"L{b.line}:{b.marker}")
def test_guide_file_shows_its_content(block):
    path = block.marker.split(" ", 1)[1]
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        actual = f.read()
    check(f"{block.label()} ({path})", block.text, actual)


def test_every_guide_block_is_checked_or_skipped_for_a_reason():
    assert not GUIDE_PROBLEMS, "\n".join(GUIDE_PROBLEMS)
    assert RUNS, "no run block found: is the guide-test convention still in docs/user-guide.md?"
    for doc in (GUIDE, README):
        firsts = {b.first_line for b in parse(doc)}
        stale = [line for (d, line) in SKIPPED if d == doc and line not in firsts]
        assert not stale, f"SKIPPED entries that match no block of {doc}: {stale}"


@pytest.mark.parametrize("block", [b for doc in (GUIDE, README) for b in parse(doc)
                                   if (doc, b.first_line) in SKIPPED and not b.marker],
                         ids=lambda b: f"{b.doc}:L{b.line}")
def test_block_not_run_here(block):
    pytest.skip(f"{block.label()}: {SKIPPED[(block.doc, block.first_line)]}")


# ---- the README ------------------------------------------------------------------------------------

def commands(text):
    """The shell commands of a block: comments and blank lines dropped, continuations joined."""
    out, cur = [], ""
    for line in text.split("\n"):
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        out.append(cur + line.strip())
        cur = ""
    assert not cur, f"dangling continuation: {cur}"
    return out


README_BLOCKS = [b for b in parse(README) if (README, b.first_line) not in SKIPPED]


def test_readme_blocks_are_commands_or_skipped():
    odd = [f"{b.label()}: {b.first_line!r}" for b in README_BLOCKS if b.lang != "sh"]
    assert not odd, f"README blocks that are neither ```sh nor in SKIPPED: {odd}"


@pytest.mark.parametrize("block", README_BLOCKS, ids=run_id)
def test_readme_commands_work_as_written(block, tmp_path):
    """Run in a folder where `call.pcap` and `call.keys` are the sample, as the README's commands
    expect. A command whose comment says it works without the plugin runs with a tshark that has
    none (scripts/tshark-stock.sh)."""
    work = tmp_path / "work"
    work.mkdir()
    os.symlink(os.path.join(ROOT, SAMPLE_PCAP), work / "call.pcap")
    os.symlink(os.path.join(ROOT, SAMPLE_KEYS), work / "call.keys")
    os.symlink(os.path.join(ROOT, "scripts"), work / "scripts")
    with_plugin = tool_dir(tmp_path, RUNNER, "bin")
    stock = tool_dir(tmp_path, STOCK_RUNNER, "stock-bin")
    seen = ""
    for cmd in commands(block.text):
        bindir = stock if "without the plugin" in cmd else with_plugin
        before = set(os.listdir(work))
        p = bash(cmd, work, environment(bindir))
        assert p.returncode == 0, f"{block.label()}: {cmd}\nexit status {p.returncode}\n{p.stderr}"
        # wacall-export reports what it wrote on stderr; anything else there is a complaint
        err = re.sub(r"(?m)^wacall-export: \S+: \d+ RTP packets in cleartext.*\n?", "", p.stderr)
        assert not err.strip(), f"{block.label()}: {cmd}\nstderr:\n{p.stderr}"
        created = set(os.listdir(work)) - before
        assert p.stdout.strip() or created, f"{block.label()}: {cmd}\nprinted and wrote nothing"
        seen += p.stdout
        for name in created:
            path = work / name
            if path.is_file() and name.endswith((".yaml", ".txt")):
                seen += path.read_text()
        if "without the plugin" in cmd:
            # the cleartext copy, read by a tshark without wacall: the five streams, all decrypted
            for ssrc in ("0xB4B7C210", "0xAFF9E163", "0x2BE16B2B", "0xCC9F9F8D", "0x23B1523C"):
                assert re.search(ssrc + r"\s+\S+\s+\d+\s+0 \(0\.0%\)", p.stdout), (ssrc, p.stdout)
    if "wacall.keylog_file:call.keys" in block.text:
        assert CALL_ID in seen, f"{block.label()}: the sample's call appears nowhere\n{seen[:3000]}"
