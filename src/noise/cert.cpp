#include "noise/cert.h"

#include "common/protowire.h"

#include <cstring>

namespace wacall::noise {

namespace {

bool parse_details(ByteView d, size_t base, CertDetails &out, std::string &err) {
    protowire::Reader r(d);
    protowire::Field f;
    while (r.next(f)) {
        size_t at = base + f.offset;
        if (f.number == 1 && f.type == protowire::Varint) {
            out.serial = static_cast<uint32_t>(f.varint);
            out.serial_off = at;
        } else if (f.number == 2 && f.type == protowire::Varint) {
            out.issuer_serial = static_cast<uint32_t>(f.varint);
            out.issuer_off = at;
        } else if (f.number == 3 && f.type == protowire::LengthDelimited) {
            out.key = f.bytes;
            out.key_off = at;
        } else if (f.number == 4 && f.type == protowire::Varint) {
            out.not_before = f.varint;
            out.not_before_off = at;
        } else if (f.number == 5 && f.type == protowire::Varint) {
            out.not_after = f.varint;
            out.not_after_off = at;
        }
    }
    if (r.error()) err = "malformed certificate details";
    return !r.error();
}

bool parse_cert(ByteView c, size_t base, CertDetails &out, std::string &err) {
    protowire::Reader r(c);
    protowire::Field f;
    while (r.next(f)) {
        if (f.type != protowire::LengthDelimited) continue;
        // Offsets: the value starts at the end of the field minus its length.
        size_t value_off = base + f.offset + f.length - f.bytes.size;
        if (f.number == 1) {
            out.details = f.bytes;
            if (!parse_details(f.bytes, value_off, out, err)) return false;
        } else if (f.number == 2) {
            out.signature = f.bytes;
            out.sig_off = value_off;
        }
    }
    if (r.error()) {
        err = "malformed certificate";
        return false;
    }
    return true;
}

}  // namespace

CertChain parse_cert_chain(ByteView plain) {
    CertChain out;
    protowire::Reader r(plain);
    protowire::Field f;
    while (r.next(f)) {
        if (f.type != protowire::LengthDelimited || (f.number != 1 && f.number != 2)) continue;
        CertDetails &d = f.number == 1 ? out.leaf : out.intermediate;
        d.present = true;
        d.offset = f.offset + f.length - f.bytes.size;
        d.length = f.bytes.size;
        if (!parse_cert(f.bytes, d.offset, d, out.error)) return out;
    }
    if (r.error()) {
        out.error = "malformed certificate chain";
        return out;
    }
    out.ok = true;
    return out;
}

CertChecks check_cert_chain(const CertChain &c, ByteView server_static) {
    CertChecks k;
    k.intermediate_issued_by_root = c.intermediate.present && c.intermediate.issuer_serial == 0u;
    // Both present: two absent serials are no evidence.
    k.leaf_issued_by_intermediate = c.leaf.present && c.intermediate.present && c.leaf.issuer_serial &&
                                    c.intermediate.serial && *c.leaf.issuer_serial == *c.intermediate.serial;
    k.leaf_key_is_server_static = c.leaf.present && server_static.size == 32 && c.leaf.key.size == 32 &&
                                  std::memcmp(c.leaf.key.data, server_static.data, 32) == 0;
    return k;
}

}  // namespace wacall::noise
