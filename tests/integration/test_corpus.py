"""The sanitised corpus export (`tshark -q -z wacall,corpus`, docs/corpus.md) over the generated
signaling captures: one record per call stanza of the manifest, in the capture schema of
spec-digest-wacrg.md §5, with the generator's structure (tags, attribute names, child order) and
not one secret or identifier of the key log or of the capture's stanzas left in the text."""
import base64
import binascii
import ipaddress
import json
import os
import re
import xml.etree.ElementTree as ET

import pytest
import yaml

from conftest import REAL

SIG = ["sig-tcp443", "sig-tcp5222-private", "sig-v2dict", "sig-ws", "sig-ws-8080", "sig-wss", "sig-ik", "sample/call"]

TOP_KEYS = {"id", "title", "status", "source", "stanza_tag", "direction", "confidence", "raw", "decoded",
            "attributes", "notes", "sanitized"}
REQUIRED = {"id", "source", "stanza_tag", "direction", "confidence", "raw", "sanitized"}
SOURCE_KEYS = {"technique", "issue", "contributor", "captured_at", "tools"}
TECHNIQUES = {"websocket-capture", "baileys-instrumentation", "frida-hooking", "mitm-tls", "static-smali-analysis",
              "memory-dump", "wasm-analysis"}

# Attributes whose values identify a person, a device, a call, a stanza, a relay or a moment (the
# test's own list, independent of the exporter's allow-list).
SERVERS = {"s.whatsapp.net", "lid", "g.us", "call", "c.us"}
IDENTIFYING = {"from", "to", "jid", "call-id", "call-creator", "caller_pn", "user_pn", "group-jid", "participant",
               "recipient", "id", "notify", "name", "uuid", "participant_uuid", "relay_name", "t",
               "caller_country_code", "device_class", "ip", "port"}


def keyopts(caps, cap):
    d = caps["dir"]
    opts = ["-o", f"wacall.keylog_file:{os.path.join(d, cap['keylog'])}"] if cap.get("keylog") else []
    if cap.get("tls_keylog"):
        opts += ["-o", f"tls.keylog_file:{os.path.join(d, cap['tls_keylog'])}"]
    return opts


def export(tshark, caps, cap, *extra, z="wacall,corpus"):
    pcap = os.path.join(caps["dir"], cap["pcap"])
    return tshark("-r", pcap, *keyopts(caps, cap), *extra, "-q", "-z", z).stdout


def docs_of(text):
    return [d for d in yaml.safe_load_all(text) if d is not None]


def call_related(f):
    return f.get("expect", "ok") == "ok" and (
        f.get("tag") == "call" or (f.get("tag") == "ack" and f.get("ack_class") == "call")
        or (f.get("tag") == "receipt" and f.get("call_id")))


def expected_frames(cap):
    rows = []
    for ci, con in enumerate(cap["connections"]):
        for f in con["frames"]:
            if call_related(f):
                rows.append(((f["pcap_frame"], ci, f["index"]), f))
    return [f for _, f in sorted(rows, key=lambda r: r[0])]


def check_schema(doc):
    assert set(doc) <= TOP_KEYS, set(doc) - TOP_KEYS
    assert REQUIRED <= set(doc), REQUIRED - set(doc)
    assert isinstance(doc["id"], str) and doc["id"]
    assert doc.get("status", "draft") in ("draft", "review", "stable", "deprecated")
    assert set(doc["source"]) <= SOURCE_KEYS and doc["source"]["technique"] in TECHNIQUES
    assert all(isinstance(t, str) for t in doc["source"].get("tools", []))
    assert isinstance(doc["stanza_tag"], str) and doc["stanza_tag"]
    assert doc["direction"] in ("outgoing", "incoming", "bidirectional")
    assert doc["confidence"] in ("confirmed", "probable", "speculative", "unknown")
    assert set(doc["raw"]) == {"format", "body"} and doc["raw"]["format"] == "xml"
    assert isinstance(doc["raw"]["body"], str)
    for a in doc.get("attributes", []):
        assert set(a) <= {"name", "value", "note"} and {"name", "value"} <= set(a)
        assert all(isinstance(v, str) for v in a.values())
    assert doc["sanitized"] is True


# ---- structure ---------------------------------------------------------------------------------------
def shape(el):
    """(tag, attribute names in order, has text content, children shapes)."""
    return (el.tag, list(el.attrib), bool((el.text or "").strip()) and not len(el), [shape(c) for c in el])


def attr_paths(el, path=""):
    out = [f"{path}.{k}" if path else k for k in el.attrib]
    tags = [c.tag for c in el]
    seen = {}
    for c in el:
        p = f"{path}.{c.tag}" if path else c.tag
        if tags.count(c.tag) > 1:
            seen[c.tag] = seen.get(c.tag, 0) + 1
            p += f"[{seen[c.tag]}]"
        out += attr_paths(c, p)
    return out


# ---- secrets ------------------------------------------------------------------------------------------
def byte_forms(b, windows=True):
    h = b.hex()
    forms = {h, h.upper(), base64.b64encode(b).decode(), base64.b64encode(b).decode().rstrip("=")}
    if windows and len(b) >= 8:  # any 8 consecutive bytes of the secret
        forms |= {h[i:i + 16] for i in range(0, len(h) - 15, 2)}
        forms |= {h[i:i + 16].upper() for i in range(0, len(h) - 15, 2)}
    return forms


def text_forms(s):
    forms = {s}
    if len(s) >= 6:
        forms |= byte_forms(s.encode(), windows=False)
    return forms


def address_forms(ip, port=None):
    a = ipaddress.ip_address(ip)
    forms = {str(a), a.exploded, str(int(a)), a.packed.hex(), a.packed.hex().upper()}
    if port is not None:
        packed = a.packed + port.to_bytes(2, "big")
        forms |= byte_forms(packed, windows=False) | {f"{a}:{port}", f"[{a}]:{port}"}
    return forms


def keylog_secrets(path):
    out = set()
    if not path or not os.path.exists(path):
        return out
    with open(path, errors="replace") as f:
        for line in f:
            if line.lstrip().startswith("{"):
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                for v in obj.values():
                    if isinstance(v, str) and re.fullmatch(r"[0-9a-fA-F]{32,}", v):
                        out |= byte_forms(bytes.fromhex(v))
                continue
            for tok in line.split():
                if len(tok) >= 32 and len(tok) % 2 == 0 and re.fullmatch(r"[0-9a-fA-F]+", tok):
                    out |= byte_forms(bytes.fromhex(tok))
    return out


def user_part(jid):
    left = jid.rsplit("@", 1)[0]
    return left.split(":")[0].split(".")[0]


def stanza_secrets(xml_text):
    """Every identifying value of one generated stanza (attribute values, JID users, contents)."""
    out = set()
    root = ET.fromstring(xml_text)
    for el in root.iter():
        for k, v in el.attrib.items():
            if "@" in v and len(user_part(v)) >= 4:
                out |= text_forms(user_part(v))
            if "@" not in v and v in SERVERS:  # a bare server ("s.whatsapp.net") names nobody
                continue
            if k in IDENTIFYING and (len(v) >= 4 or k in ("caller_country_code",)):
                out |= text_forms(v) if len(v) >= 4 else {f'"{v}"', f"={v}"}
        text = (el.text or "").strip() if not len(el) else ""
        if len(text) >= 8 and el.tag != "warp_mi_tag_len":
            out |= text_forms(text)
            if re.fullmatch(r"(?:[0-9a-f]{2})+", text):
                b = bytes.fromhex(text)
                out |= byte_forms(b)
                try:
                    out |= text_forms(b.decode("ascii"))
                except UnicodeDecodeError:
                    pass
    return out


def capture_secrets(caps, cap):
    d = caps["dir"]
    out = keylog_secrets(os.path.join(d, cap["keylog"])) | keylog_secrets(
        os.path.join(d, cap["tls_keylog"]) if cap.get("tls_keylog") else None)
    ports = set()
    for con in cap["connections"]:
        for k in ("client_ephemeral_public", "client_ephemeral_private", "client_static_private",
                  "client_static_public", "server_static_public", "k_c2s", "k_s2c"):
            out |= byte_forms(bytes.fromhex(con[k]))
        for ep in (con["client"], con["server"]):
            out |= address_forms(ep.rsplit(":", 1)[0])
        ports.add(int(con["client"].rsplit(":", 1)[1]))  # the server's 443/5222/80 are public service ports
        for f in con["frames"]:
            if f.get("xml"):
                out |= stanza_secrets(f["xml"])
            for k in ("call_id", "stanza_id", "call_creator", "ack_for_call_id"):
                if f.get(k):
                    out |= text_forms(f[k])
            for te in f.get("te", []):
                out |= address_forms(te["ip"], te["port"])
                ports.add(te["port"])
            relay = f.get("relay") or {}
            for k in ("key", "hbh_key_text", "uuid", "participant_uuid"):
                if relay.get(k):
                    out |= text_forms(relay[k])
            if relay.get("hbh_key_hex"):
                out |= byte_forms(bytes.fromhex(relay["hbh_key_hex"]))
    return out, ports


def assert_no_secret(text, secrets, ports):
    scalars = "\n".join(str(v) for d in docs_of(text) for v in _walk(d))
    for s in secrets:
        assert s not in text, f"secret form {s!r} survives in the export"
        assert s not in scalars, f"secret form {s!r} survives in a parsed value"
    for p in ports:
        assert not re.search(rf"(?<![0-9]){p}(?![0-9])", text), f"port {p} survives"


def _walk(v):
    if isinstance(v, dict):
        for x in v.values():
            yield from _walk(x)
    elif isinstance(v, list):
        for x in v:
            yield from _walk(x)
    else:
        yield v


# ---- tests --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SIG)
def test_one_sanitised_record_per_call_stanza(tshark, caps, name):
    cap = caps["by_name"][name]
    text = export(tshark, caps, cap)
    docs = docs_of(text)
    want = expected_frames(cap)
    assert want, name
    assert text.startswith(f"# wacall corpus export: {len(want)} ")
    assert len(docs) == len(want), [d["title"] for d in docs]
    ids = set()
    for doc, f in zip(docs, want):
        check_schema(doc)
        assert doc["id"] not in ids
        ids.add(doc["id"])
        assert doc["stanza_tag"] == f["tag"]
        assert doc["direction"] == ("outgoing" if f["direction"] == "c2s" else "incoming"), (doc["title"], f)
        assert f"(frame {f['pcap_frame']})" in doc["title"]
        if f.get("action"):
            assert doc["id"].endswith("-" + f["action"].replace("_", "-"))
        # The generator's structure, exactly: tags, attribute names in order, child order, which
        # nodes carry content.
        body = ET.fromstring(doc["raw"]["body"])
        orig = ET.fromstring(f["xml"])
        assert shape(body) == shape(orig), (doc["raw"]["body"], f["xml"])
        assert [a["name"] for a in doc.get("attributes", [])] == attr_paths(orig)
        # Types and lengths: one outline line per node, attribute and content.
        outline = doc["decoded"]
        assert outline.count("\n") >= 1 + len(list(orig.iter())) + len(attr_paths(orig))
        assert all(re.search(r"; (kept|pseudonym|placeholder|relative time|documentation address)", line)
                   for line in outline.splitlines()[1:] if line.lstrip().startswith(("@", "content:")))


@pytest.mark.parametrize("name", SIG)
def test_no_secret_or_identifier_survives(tshark, caps, name):
    cap = caps["by_name"][name]
    text = export(tshark, caps, cap)
    secrets, ports = capture_secrets(caps, cap)
    assert len(secrets) > 50
    assert_no_secret(text, secrets, ports)


@pytest.mark.parametrize("name", ["sig-tcp443", "sig-tcp5222-private", "sig-ws"])
def test_pseudonyms_are_consistent(tshark, caps, name):
    cap = caps["by_name"][name]
    docs = docs_of(export(tshark, caps, cap))
    by_real = {}
    for doc, f in zip(docs, expected_frames(cap)):
        attrs = {a["name"]: a["value"] for a in doc.get("attributes", [])}
        cid = next((v for k, v in attrs.items() if k.endswith("call-id") and k.count(".") == 1), None)
        if f.get("call_id") and cid:
            by_real.setdefault(("call", f["call_id"]), set()).add(cid)
            assert re.fullmatch(r"CALLID-\d{4}-synthetic", cid)
        if f.get("stanza_id") and "id" in attrs:
            by_real.setdefault(("id", f["stanza_id"]), set()).add(attrs["id"])
        if f.get("ack_for_call_id"):  # the ack's id echoes the call stanza's id: same placeholder
            assert attrs["id"] in by_real.get(("id", f["stanza_id"]), {attrs["id"]})
    assert by_real
    for real, placeholders in by_real.items():
        assert len(placeholders) == 1, (real, placeholders)
    flat = [next(iter(p)) for p in by_real.values()]
    assert len(set(flat)) == len({r[1] for r in by_real}), "two real values share a placeholder"
    # The caller is A, the callee B (spec §5.3), on both sides of a call.
    creators = {a["value"] for d in docs for a in d.get("attributes", []) if a["name"].endswith("call-creator")}
    assert creators and all(c.startswith("A") for c in creators), creators


def test_second_pass_and_file_output_are_identical(tshark, caps, tmp_path):
    cap = caps["by_name"]["sig-tcp443"]
    one = export(tshark, caps, cap)
    two = export(tshark, caps, cap, "-2")
    assert one == two
    out = tmp_path / "corpus.yaml"
    msg = export(tshark, caps, cap, z=f"wacall,corpus,{out}")
    assert f"record(s) written to {out}" in msg
    assert out.read_text() == one
    opts = export(tshark, caps, cap, z="wacall,corpus,technique=frida-hooking,confidence=probable")
    d = docs_of(opts)[0]
    assert d["source"]["technique"] == "frida-hooking" and d["confidence"] == "probable"
    assert any(t.startswith("wacall@") for t in d["source"]["tools"])


def test_bad_option_is_refused(tshark, caps):
    cap = caps["by_name"]["sig-tcp443"]
    p = tshark("-r", os.path.join(caps["dir"], cap["pcap"]), "-q", "-z", "wacall,corpus,technique=pcap", check=False)
    assert p.returncode != 0
    assert "unknown technique" in p.stderr


def test_without_keys_the_corpus_is_empty_and_says_why(tshark, caps):
    cap = caps["by_name"]["sig-nokey"]
    text = export(tshark, caps, cap)
    assert docs_of(text) == []
    assert text.startswith("# wacall corpus export: 0 ")
    assert "No call stanza was decrypted" in text and "wacall.keylog_file" in text


REAL_PCAPS = sorted(f for f in os.listdir(REAL) if f.endswith((".pcap", ".pcapng"))) if os.path.isdir(REAL) else []


@pytest.mark.skipif(not REAL_PCAPS, reason="real captures not available")
@pytest.mark.parametrize("pcap", REAL_PCAPS)
def test_real_captures_without_keys(tshark, pcap):
    text = tshark("-r", os.path.join(REAL, pcap), "-q", "-z", "wacall,corpus").stdout
    docs = docs_of(text)
    for d in docs:  # none expected (no key log), but anything exported must be a sanitised record
        check_schema(d)
    if not docs:
        assert "No call stanza was decrypted" in text
