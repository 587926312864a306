#!/usr/bin/python3
"""ctest `opus_codec`: the chain capture -> wacall decryption -> wacall_opus codec plugin.

1. test-pcaps/gen/media_opus.py writes media-opus.pcap (a libopus-encoded 440 Hz sine as WARP
   PT 111 under E2E SRTP) into <build>/codec-test/;
2. tshark with the build's plugin (scripts/tshark-dev.sh) decrypts it and prints rtp.seq and
   rtp.payload of the stream's decrypted packets (payloads.txt);
3. <build>/opus_codec_test, started through scripts/tshark-dev.sh too (same plugin dir, same
   user namespace as root), loads the codec plugin with wsutil's codecs_init(), decodes the
   payloads and compares them with the sine (see tests/codec/opus_codec_test.c).
The integration suite (tests/integration/test_audio_export.py) reuses these functions.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNER = os.path.join(ROOT, "scripts", "tshark-dev.sh")


def _env(build, tool="tshark"):
    return dict(os.environ, WACALL_BUILD_DIR=build, WACALL_TOOL=tool)


def extract_payloads(build, pcap, keys, ssrc_hex, out_path):
    """Writes 'seq<TAB>payload-hex' of every decrypted RTP packet of the SSRC; returns the count."""
    p = subprocess.run([RUNNER, "-r", pcap, "-o", f"wacall.keylog_file:{keys}",
                        "-Y", f"warp.decrypted == 1 && rtp.ssrc == {ssrc_hex}",
                        "-T", "fields", "-e", "rtp.seq", "-e", "rtp.payload"],
                       capture_output=True, text=True, env=_env(build), timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"tshark failed ({p.returncode}): {p.stderr}")
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return len(lines)


def run_codec_test(build, payloads, opus, wav=None):
    """Runs the C test binary on the payload file with the manifest's reference (opus block)."""
    binary = os.path.join(build, "opus_codec_test")
    sine = opus["sine"]
    args = [RUNNER, "--expect-plugin-dir", os.path.join(build, "plugins"), "--freq", str(sine["freq_hz"]),
            "--amplitude", str(sine["amplitude"]), "--frame-samples", str(opus["frame_samples"]),
            "--skip-ms", "100", "--min-snr", "30"]
    if wav:
        args += ["--wav", wav]
    return subprocess.run(args + [payloads], capture_output=True, text=True, env=_env(build, binary), timeout=300)


def main():
    build = os.environ.get("WACALL_BUILD_DIR", os.path.join(ROOT, "build"))
    out = os.path.join(build, "codec-test")
    os.makedirs(out, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "test-pcaps", "gen", "media_opus.py"), out], check=True,
                   timeout=300)
    with open(os.path.join(out, "manifest-opus.json")) as f:
        cap = json.load(f)["captures"][0]
    opus = cap["opus"]
    payloads = os.path.join(out, "payloads.txt")
    n = extract_payloads(build, os.path.join(out, cap["pcap"]), os.path.join(out, cap["keylog"]), opus["ssrc_hex"],
                         payloads)
    print(f"{n} decrypted Opus payloads (manifest: {opus['frames']})")
    if n != opus["frames"]:
        return 1
    p = run_codec_test(build, payloads, opus, wav=os.path.join(out, "decoded.wav"))
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
