// HQ's TLS identity: a self-signed certificate and its key, and the public-key pin devices check.
//
// Devices do not trust a certificate authority for HQ: they trust the key whose pin came with their
// enrollment code (docs/protocol.md, "Enrollment"). So HQ makes its own certificate once and keeps it.
#pragma once

#include <string>

#include "core/error.hpp"

namespace outpost::hq {

struct TlsCertificateOptions {
    std::string commonName = "127.0.0.1";
    int validDays = 3650;
};

// Makes an EC P-256 key and a self-signed X.509 v3 certificate for it (SAN: IP 127.0.0.1 and
// DNS localhost), and writes both as PEM. The key file gets mode 0600. Each file is written to a
// temporary name first and renamed into place, so a failure leaves no half-written file.
// Fails with Storage errors when a file cannot be written, Crypto when OpenSSL fails.
Result<void> makeSelfSignedCertificate(const std::string& certFile, const std::string& keyFile,
                                       const TlsCertificateOptions& options = {});

// The pin of a PEM certificate file: SHA-256 of the DER SubjectPublicKeyInfo, base64url without
// padding. libcurl's CURLOPT_PINNEDPUBLICKEY "sha256//" + standard base64 of the same bytes matches it
// (sync::curlPin converts). NotFound when the file is missing, BadInput when it is no certificate.
Result<std::string> certificatePin(const std::string& certFile);

}  // namespace outpost::hq
