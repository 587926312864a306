"""WABinary encoder (and a small checking decoder), written from the reference digest §2.

Independent of the plugin's C++ code on purpose: the captures it makes test the plugin.

A node is a tuple ``(tag, attrs, content)``:
  * ``attrs``   list of ``(key, value)``; value is a ``str``, a ``Jid`` or a forcing marker below;
  * ``content`` ``None`` | list of nodes | ``bytes`` (always BINARY_*) | ``str`` (classified like
    any string) | a forcing marker.

Strings are classified exactly like the reference encoder (§2.4), first match wins:
empty -> ``fc 00``; > 127 bytes -> raw BINARY; token; ``[0-9.-]`` -> NIBBLE_8; ``[0-9A-F]`` ->
HEX_8; <= 48 chars with '@' -> AD_JID / JID_PAIR; else raw BINARY.

The forcing markers (``Raw``, ``Packed``, ``AdJid``, ``FbJid``, ``InteropJid``, ``JidPair``,
``Verbatim``) bypass the classification so that captures can cover every wire form.
"""
import json
import os
import zlib

# ---- tag bytes (§2.2) ----------------------------------------------------------------------
LIST_EMPTY, DICT0 = 0x00, 0xEC
INTEROP_JID, FB_JID, AD_JID = 0xF5, 0xF6, 0xF7
LIST_8, LIST_16, JID_PAIR, HEX_8 = 0xF8, 0xF9, 0xFA, 0xFB
BINARY_8, BINARY_20, BINARY_32, NIBBLE_8 = 0xFC, 0xFD, 0xFE, 0xFF
PACKED_MAX = 127

NIBBLE_ALPHABET = "0123456789-."
HEX_ALPHABET = "0123456789ABCDEF"
AD_DOMAINS = {"s.whatsapp.net": 0, "lid": 1, "hosted": 128, "hosted.lid": 129}


# ---- dictionaries -----------------------------------------------------------------------------
def _dict_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.path.join(here, "..", "..", "src", "wabinary", "dict"), "/work/shared/data/wabinary"):
        if os.path.exists(os.path.join(d, "dictionary-v3.json")):
            return d
    raise FileNotFoundError("WABinary dictionaries not found")


class Dictionary:
    """One token dictionary version: string -> wire bytes, and wire -> string."""

    def __init__(self, version):
        with open(os.path.join(_dict_dir(), f"dictionary-v{version}.json")) as f:
            d = json.load(f)
        self.version = version
        self.single = d["single_byte"]
        self.double = d["double_byte"]
        self.index = {}
        for i, s in enumerate(self.single):
            if i:  # index 0 is the empty string, never a token
                self.index[s] = bytes([i])
        for t, table in enumerate(self.double):
            for i, s in enumerate(table):
                self.index[s] = bytes([DICT0 + t, i])


_DICTS = {}


def dictionary(version):
    if version not in _DICTS:
        _DICTS[version] = Dictionary(version)
    return _DICTS[version]


# ---- typed values and forcing markers ------------------------------------------------------------
class Jid:
    """A typed JID, written like the reference's typed path: AD_JID only when the device is
    non-zero and the server is an AD server; otherwise JID_PAIR (device 0 is dropped)."""

    def __init__(self, user, server, device=0):
        self.user, self.server, self.device = user, server, device

    def write(self, w):
        if self.device and self.server in AD_DOMAINS:
            AdJid(self.user, self.device, self.server).write(w)
        else:
            JidPair(self.user, self.server).write(w)

    def __str__(self):
        return jid_text(self.user, self.server, self.device)


class Raw:
    """Bytes (or a str, UTF-8) forced to BINARY; width 8/20/32 forces the size form."""

    def __init__(self, data, width=None):
        self.data = data.encode() if isinstance(data, str) else bytes(data)
        self.width = width

    def write(self, w):
        w.binary(self.data, self.width)


class Packed:
    """A string forced into HEX_8 (kind='hex') or NIBBLE_8 (kind='nibble')."""

    def __init__(self, text, kind="hex"):
        self.text, self.kind = text, kind

    def write(self, w):
        w.packed(self.text, HEX_8 if self.kind == "hex" else NIBBLE_8)


class AdJid:
    """Explicit AD_JID. domain: a server name of AD_DOMAINS or the raw domain byte."""

    def __init__(self, user, device, domain="s.whatsapp.net"):
        self.user, self.device = user, device
        self.domain = AD_DOMAINS[domain] if isinstance(domain, str) else domain

    def write(self, w):
        w.out += bytes([AD_JID, self.domain, self.device])
        w.string(self.user)


class FbJid:
    def __init__(self, user, device, server="msgr"):
        self.user, self.device, self.server = user, device, server

    def write(self, w):
        w.out.append(FB_JID)
        w.string(self.user)
        w.out += self.device.to_bytes(2, "big")
        w.string(self.server)


class InteropJid:
    """with_server=False gives the client's outbound form that omits the trailing server."""

    def __init__(self, user, device, integrator, server="interop", with_server=True):
        self.user, self.device, self.integrator = user, device, integrator
        self.server, self.with_server = server, with_server

    def write(self, w):
        w.out.append(INTEROP_JID)
        w.string(self.user)
        w.out += self.device.to_bytes(2, "big") + self.integrator.to_bytes(2, "big")
        if self.with_server:
            w.string(self.server)


class JidPair:
    def __init__(self, user, server):
        self.user, self.server = user, server

    def write(self, w):
        w.out.append(JID_PAIR)
        if self.user:
            w.string(self.user)
        else:
            w.out.append(LIST_EMPTY)
        w.string(self.server)


class Verbatim:
    """Bytes copied into the stream as they are, for malformed test nodes."""

    def __init__(self, data):
        self.data = bytes(data)

    def write(self, w):
        w.out += self.data


def jid_text(user, server, device=0, agent=0):
    """Display rule §2.5: user[.agent][:device]@server, device 0 omitted."""
    s = user or ""
    if agent:
        s += f".{agent}"
    if device:
        s += f":{device}"
    return f"{s}@{server}" if s else server


# ---- encoder ------------------------------------------------------------------------------------
class _Writer:
    def __init__(self, version):
        self.d = dictionary(version)
        self.out = bytearray()

    def list_start(self, n):
        if n == 0:
            self.out.append(LIST_EMPTY)
        elif n < 256:
            self.out += bytes([LIST_8, n])
        else:
            self.out += bytes([LIST_16]) + n.to_bytes(2, "big")

    def binary(self, data, width=None):
        n = len(data)
        width = width or (8 if n < 256 else 20 if n < (1 << 20) else 32)
        if width == 8:
            self.out += bytes([BINARY_8, n])
        elif width == 20:
            self.out += bytes([BINARY_20, (n >> 16) & 0x0F, (n >> 8) & 0xFF, n & 0xFF])
        else:
            self.out += bytes([BINARY_32]) + n.to_bytes(4, "big")
        self.out += data

    def packed(self, s, kind):
        alphabet = HEX_ALPHABET if kind == HEX_8 else NIBBLE_ALPHABET
        nib = [alphabet.index(c) for c in s]
        odd = len(nib) % 2
        if odd:
            nib.append(15)  # pad nibble, dropped by the odd flag
        self.out += bytes([kind, (0x80 if odd else 0) | (len(nib) // 2)])
        self.out += bytes((nib[i] << 4) | nib[i + 1] for i in range(0, len(nib), 2))

    def string(self, s):
        raw = s.encode()
        if not s:
            self.out += bytes([BINARY_8, 0])
        elif len(raw) > PACKED_MAX:
            self.binary(raw)
        elif s in self.d.index:
            self.out += self.d.index[s]
        elif all(c in NIBBLE_ALPHABET for c in s):
            self.packed(s, NIBBLE_8)
        elif all(c in HEX_ALPHABET for c in s):
            self.packed(s, HEX_8)
        elif len(s) <= 48 and "@" in s:
            self.jid_string(s)
        else:
            self.binary(raw)

    def jid_string(self, s):
        user, server = s.split("@", 1)
        if ":" in user:
            u, dev = user.split(":", 1)
            if dev.isdigit() and int(dev) < 256 and server in AD_DOMAINS:
                return AdJid(u, int(dev), server).write(self)
        JidPair(user, server).write(self)

    def value(self, v):
        if isinstance(v, str):
            self.string(v)
        elif isinstance(v, (bytes, bytearray)):
            self.binary(bytes(v))
        else:
            v.write(self)

    def node(self, node):
        tag, attrs, content = node
        self.list_start(1 + 2 * len(attrs) + (content is not None))
        self.value(tag)
        for k, v in attrs:
            self.value(k)
            self.value(v)
        if content is None:
            return
        if isinstance(content, list):
            self.list_start(len(content))
            for child in content:
                self.node(child)
        else:
            self.value(content)


def encode(node, dict_version=3):
    """Node bytes without the format byte."""
    w = _Writer(dict_version)
    w.node(node)
    return bytes(w.out)


def pack(node_bytes, compress=False):
    """Packed payload (§2.1): format byte 0x00 + node, or 0x02 + zlib(node)."""
    if compress:
        return b"\x02" + zlib.compress(node_bytes, 9)
    return b"\x00" + node_bytes


# ---- decoder (to check the encoder and render the manifest) ----------------------------------------
class DecodeError(ValueError):
    pass


class _Reader:
    def __init__(self, data, version):
        self.b, self.p, self.d = data, 0, dictionary(version)

    def u8(self):
        if self.p >= len(self.b):
            raise DecodeError("unexpected end of data")
        self.p += 1
        return self.b[self.p - 1]

    def take(self, n):
        if self.p + n > len(self.b):
            raise DecodeError("unexpected end of data")
        self.p += n
        return self.b[self.p - n:self.p]

    def int_be(self, n):
        return int.from_bytes(self.take(n), "big")

    def list_size(self, tag):
        if tag == LIST_EMPTY:
            return 0
        if tag == LIST_8:
            return self.u8()
        if tag == LIST_16:
            return self.int_be(2)
        raise DecodeError(f"invalid list tag 0x{tag:02x}")

    def packed(self, tag):
        n = self.u8()
        out = []
        for byte in self.take(n & 0x7F):
            for nib in (byte >> 4, byte & 0x0F):
                if tag == HEX_8:
                    out.append(HEX_ALPHABET[nib])
                elif nib < 12:
                    out.append(NIBBLE_ALPHABET[nib])
                elif nib == 15:
                    out.append("")  # pad
                else:
                    raise DecodeError(f"invalid nibble {nib}")
        if n & 0x80:
            out = out[:-1]
        return "".join(out)

    def value(self, tag):
        """Returns str for strings/JIDs, bytes for BINARY_*."""
        if tag == LIST_EMPTY:
            return ""
        if 1 <= tag < DICT0:
            return self.d.single[tag]
        if DICT0 <= tag < DICT0 + 4:
            return self.d.double[tag - DICT0][self.u8()]
        if tag == BINARY_8:
            return bytes(self.take(self.u8()))
        if tag == BINARY_20:
            b = self.take(3)
            return bytes(self.take(((b[0] & 0x0F) << 16) | (b[1] << 8) | b[2]))
        if tag == BINARY_32:
            return bytes(self.take(self.int_be(4)))
        if tag in (HEX_8, NIBBLE_8):
            return self.packed(tag)
        if tag == JID_PAIR:
            ut = self.u8()
            user = "" if ut == LIST_EMPTY else self.text(ut)
            return jid_text(user, self.text(self.u8()))
        if tag == AD_JID:
            dom, dev = self.u8(), self.u8()
            if dom in (0, 1, 128, 129):
                server = {0: "s.whatsapp.net", 1: "lid", 128: "hosted", 129: "hosted.lid"}[dom]
            elif dom & 0x80 and not dom & 1:
                server = "hosted"
            else:
                raise DecodeError(f"Invalid domain type encoding {dom}")
            return jid_text(self.text(self.u8()), server, dev)
        if tag == FB_JID:
            user = self.text(self.u8())
            dev = self.int_be(2)
            return jid_text(user, self.text(self.u8()), dev)
        if tag == INTEROP_JID:
            user = self.text(self.u8())
            dev = self.int_be(2)
            self.int_be(2)  # integrator: not part of the display form
            return jid_text(user, self.text(self.u8()), dev)  # inbound form: server present
        raise DecodeError(f"invalid token 0x{tag:02x}")

    def text(self, tag):
        v = self.value(tag)
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else v

    def node(self, depth=0):
        if depth > 128:
            raise DecodeError("nesting too deep")
        n = self.list_size(self.u8())
        if n == 0:
            raise DecodeError("empty node list")
        tag = self.text(self.u8())
        attrs = []
        for _ in range((n - 1) // 2):
            k = self.text(self.u8())
            attrs.append((k, self.text(self.u8())))
        content = None
        if n % 2 == 0:
            t = self.u8()
            if t in (LIST_8, LIST_16):
                content = [self.node(depth + 1) for _ in range(self.list_size(t))]
            elif t != LIST_EMPTY:
                content = self.value(t)
        return (tag, attrs, content)


def decode(node_bytes, dict_version=3):
    """Decodes node bytes (no format byte); rejects trailing data like unmarshal_ref."""
    r = _Reader(node_bytes, dict_version)
    node = r.node()
    if r.p != len(node_bytes):
        raise DecodeError("leftover data")
    return node


def unpack(payload):
    """Format byte + body -> node bytes (§2.1)."""
    if payload[0] & 0x02:
        return zlib.decompress(payload[1:])
    return payload[1:]


def _esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def to_xml(node):
    """Compact XML: attrs in order, binary content as lowercase hex, children inline."""
    tag, attrs, content = node
    a = "".join(f' {k}="{_esc(v)}"' for k, v in attrs)
    if content is None:
        return f"<{tag}{a}/>"
    if isinstance(content, list):
        inner = "".join(to_xml(c) for c in content)
    elif isinstance(content, bytes):
        inner = content.hex()
    else:
        inner = _esc(content)
    return f"<{tag}{a}>{inner}</{tag}>"


# ---- self-test against the digest's vectors (§5.2) ----------------------------------------------------
def _expect(name, got, want):
    if got != want:
        raise AssertionError(f"wabin selftest {name}: got {got!r}, want {want!r}")


def selftest():
    H = bytes.fromhex
    _expect("message", pack(encode(("message", [], "receipt"))), H("00f8021307"))
    _expect("nibble", pack(encode(("test", [], "-.0123456789"))), H("00f802fc0474657374ff06ab0123456789"))
    _expect("empty", encode(("x", [("a", "")], None))[-2:], H("fc00"))
    for n, want in ((0, "00"), (255, "f8ff"), (256, "f90100")):
        w = _Writer(3)
        w.list_start(n)
        _expect(f"list {n}", bytes(w.out), H(want))
    for n, want in ((255, "fcff"), (256, "fd000100")):
        w = _Writer(3)
        w.binary(b"\0" * n)
        _expect(f"binary {n}", bytes(w.out[:len(want) // 2]), H(want))
    for body, want in (("000000", 0), ("000100", 256), ("010000", 65536), ("0fffff", 1048575)):
        _expect(f"u20 {body}", len(_Reader(H(body) + b"\0" * want, 3).value(BINARY_20)), want)
    _expect("hex", _Reader(H("03abcdef"), 3).packed(HEX_8), "ABCDEF")
    _expect("nib", _Reader(H("82123f"), 3).packed(NIBBLE_8), "123")
    _expect("nib0", _Reader(H("00"), 3).packed(NIBBLE_8), "")
    for bad in ("01c0", "01d0", "01e0"):
        try:
            _Reader(H(bad), 3).packed(NIBBLE_8)
            raise AssertionError(f"wabin selftest: nibble {bad} accepted")
        except DecodeError:
            pass
    try:
        decode(H("f802f70201fc03313233"))
        raise AssertionError("wabin selftest: bad AD domain accepted")
    except DecodeError as e:
        _expect("ad domain", str(e), "Invalid domain type encoding 2")
    success = decode(H(
        "f80f4c1aff0517520218905cee043dfc0366726376f7012aff88100000000000001f4becb43cff051752020041ece6"
        "fc2c643559623557784c2b6b35554b5148564936627546524751456a30475a413565767a3862365632786b64773d"))
    _expect("success", success, ("success", [
        ("t", "1752021890"), ("props", "27"), ("location", "frc"), ("lid", "100000000000001:42@lid"),
        ("abprops", "10"), ("creation", "1752020041"),
        ("companion_enc_static", "d5Yb5WxL+k5UKQHVI6buFRGQEj0GZA5evz8b6V2xkdw=")], None))
    offer = ("call", [("to", "222222222222222:0@lid"), ("id", "3EB0ABCDEF0123456789")], [
        ("offer", [("call-id", "00112233445566778899AABBCCDDEEFF"), ("call-creator", "111111111111111:0@lid")], [
            ("audio", [("enc", "opus"), ("rate", "16000")], None),
            ("net", [("medium", "3")], None),
            ("capability", [("ver", "1")], H("0105f709e0bb13")),
            ("enc", [("v", "2"), ("type", "pkmsg"), ("count", "0")], H("dead")),
            ("encopt", [("keygen", "2")], None)])])
    want = H("00f8066411f70100ff88222222222222222f08fb0a3eb0abcdef0123456789f801f806ec1c68fb10001122334455"
             "66778899aabbccddeeff47f70100ff88111111111111111ff805f805a11dec1eec1dff8316000ff803ec68ec24a2"
             "f804b4ec2155fc070105f709e0bb13f8081d51450453412dfc02deadf803ec15ec1a45")
    _expect("offer", pack(encode(offer)), want)
    _expect("offer decode", to_xml(decode(want[1:])), to_xml(offer).replace(":0@lid", "@lid"))
    _expect("zlib", unpack(pack(b"\xf8\x01\x13", True)), b"\xf8\x01\x13")
    # every forcing marker round-trips through the decoder
    forced = ("x", [("a", AdJid("123", 5, "hosted")), ("b", FbJid("77", 300)), ("c", InteropJid("88", 2, 9)),
                    ("d", JidPair("", "call")), ("e", Packed("ABC")), ("f", Packed("12", "nibble")),
                    ("g", Raw("12", 20)), ("h", Raw(b"z", 32)), ("i", Jid("55", "lid", 0))], None)
    got = decode(encode(forced))[1]
    _expect("forced", got, [("a", "123:5@hosted"), ("b", "77:300@msgr"), ("c", "88:2@interop"), ("d", "call"),
                            ("e", "ABC"), ("f", "12"), ("g", "12"), ("h", "z"), ("i", "55@lid")])
    return True


if __name__ == "__main__":
    selftest()
    print("wabin selftest ok")
