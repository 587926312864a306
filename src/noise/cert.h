// The server's Noise certificate chain (reference digest §1.6), decrypted from the ServerHello:
//   CertChain { leaf = 1, intermediate = 2 }  NoiseCertificate { details = 1, signature = 2 }
//   Details { serial = 1, issuerSerial = 2, key = 3, notBefore = 4, notAfter = 5 }
// Decoded with the bounded protobuf walker; views point into the buffer passed in.
#pragma once

#include "common/bytes.h"

#include <cstdint>
#include <optional>
#include <string>

namespace wacall::noise {

struct CertDetails {
    bool present = false;
    size_t offset = 0, length = 0;  // the NoiseCertificate message within the chain
    ByteView details, signature;
    std::optional<uint32_t> serial, issuer_serial;  // nullopt: the field is absent
    std::optional<uint64_t> not_before, not_after;  // seconds since the epoch
    ByteView key;
    size_t serial_off = 0, issuer_off = 0, key_off = 0, not_before_off = 0, not_after_off = 0, sig_off = 0;  // in the chain
};

struct CertChain {
    bool ok = false;  // parsed (both certificates may still be absent)
    std::string error;
    CertDetails leaf, intermediate;
};

CertChain parse_cert_chain(ByteView plain);

// The structural checks of the reference client (signatures are XEdDSA, not verified here).
struct CertChecks {
    bool intermediate_issued_by_root = false;  // intermediate issuerSerial == 0
    bool leaf_issued_by_intermediate = false;  // leaf issuerSerial == intermediate serial
    bool leaf_key_is_server_static = false;    // leaf key == the decrypted server static
};
CertChecks check_cert_chain(const CertChain &c, ByteView server_static);

}  // namespace wacall::noise
