// HQ's self-signed TLS certificate and the public-key pin (OpenSSL 3).
#include "hq/tls.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "storage/durable_file.hpp"
#include "sync/protocol.hpp"

namespace outpost::hq {

using namespace outpost::sync;

namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

// The newest OpenSSL error in words (the queue is cleared).
std::string opensslError(const std::string& what) {
    unsigned long e = ERR_get_error();
    std::string msg = what;
    if (e) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        msg += ": ";
        msg += buf;
    }
    ERR_clear_error();
    return msg;
}

[[noreturn]] void cryptoFail(const std::string& what) {
    throw Failure(ErrorDomain::Crypto, ErrorCode::Internal, opensslError(what));
}

void addExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
    if (!ext) cryptoFail(std::string("cannot make the certificate extension ") + OBJ_nid2sn(nid));
    if (X509_add_ext(cert, ext.get(), -1) != 1) cryptoFail("cannot add a certificate extension");
}

std::string bioText(BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

Result<void> makeSelfSignedCertificate(const std::string& certFile, const std::string& keyFile,
                                       const TlsCertificateOptions& options) {
    return tryCatch([&] {
        ERR_clear_error();
        // P-256: every TLS stack (libcurl with OpenSSL or GnuTLS, browsers) speaks it.
        PkeyPtr key(EVP_EC_gen("P-256"));
        if (!key) cryptoFail("cannot make an EC P-256 key");

        X509Ptr cert(X509_new());
        if (!cert) cryptoFail("cannot make a certificate");
        if (X509_set_version(cert.get(), X509_VERSION_3) != 1)
            cryptoFail("cannot set the certificate version");

        // A random positive 128-bit serial: two certificates made by two HQs never share one.
        unsigned char serialBytes[16];
        if (RAND_bytes(serialBytes, sizeof serialBytes) != 1) cryptoFail("no random bytes for the serial");
        serialBytes[0] &= 0x7f;
        BnPtr serial(BN_bin2bn(serialBytes, sizeof serialBytes, nullptr));
        if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
            cryptoFail("cannot set the certificate serial");

        // Valid from a day ago (a server clock slightly behind a laptop's does not matter) for validDays.
        if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -24L * 3600) ||
            !X509_time_adj_ex(X509_getm_notAfter(cert.get()), options.validDays, 0, nullptr))
            cryptoFail("cannot set the certificate validity");
        if (X509_set_pubkey(cert.get(), key.get()) != 1) cryptoFail("cannot put the key in the certificate");

        X509_NAME* name = X509_get_subject_name(cert.get());
        const auto* cn = reinterpret_cast<const unsigned char*>(options.commonName.c_str());
        const auto* org = reinterpret_cast<const unsigned char*>("Outpost HQ");
        if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, org, -1, -1, 0) != 1 ||
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn, -1, -1, 0) != 1)
            cryptoFail("cannot set the certificate name");
        if (X509_set_issuer_name(cert.get(), name) != 1) cryptoFail("cannot set the certificate issuer");

        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
        // The usual shape of a self-signed server certificate, so that a TLS stack which checks it
        // against itself as its own trust anchor (a CA file in tests) accepts it too.
        addExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
        addExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature,keyCertSign");
        addExtension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth");
        addExtension(cert.get(), &ctx, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
        addExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
        addExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");

        if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) cryptoFail("cannot sign the certificate");

        BioPtr keyBio(BIO_new(BIO_s_mem()));
        BioPtr certBio(BIO_new(BIO_s_mem()));
        if (!keyBio || !certBio) cryptoFail("out of memory");
        if (PEM_write_bio_PrivateKey(keyBio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
            cryptoFail("cannot encode the TLS key");
        if (PEM_write_bio_X509(certBio.get(), cert.get()) != 1) cryptoFail("cannot encode the certificate");

        std::string keyPem = bioText(keyBio.get());
        storage::writeFileDurably(keyFile, keyPem, 0600).value();
        storage::wipeSecret(keyPem);
        storage::writeFileDurably(certFile, bioText(certBio.get()), 0644).value();
    });
}

Result<std::string> certificatePin(const std::string& certFile) {
    return tryCatch([&] {
        ERR_clear_error();
        std::error_code ec;
        if (!std::filesystem::exists(certFile, ec))
            throw Failure(ErrorDomain::NotFound, ErrorCode::NotFound, "no TLS certificate at " + certFile);
        BioPtr bio(BIO_new_file(certFile.c_str(), "r"));
        if (!bio) throw Failure(ErrorDomain::Storage, ErrorCode::Io, opensslError("cannot read " + certFile));
        X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        if (!cert)
            throw Failure(ErrorDomain::Input, ErrorCode::BadInput,
                          opensslError(certFile + " is not a PEM certificate"));
        X509_PUBKEY* spki = X509_get_X509_PUBKEY(cert.get());
        unsigned char* der = nullptr;
        int len = spki ? i2d_X509_PUBKEY(spki, &der) : -1;
        if (len <= 0) cryptoFail("cannot encode the certificate's public key");
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int digestLen = 0;
        int ok = EVP_Digest(der, static_cast<std::size_t>(len), digest, &digestLen, EVP_sha256(), nullptr);
        OPENSSL_free(der);
        if (ok != 1) cryptoFail("cannot hash the certificate's public key");
        return base64UrlEncode(Bytes(digest, digest + digestLen));
    });
}

}  // namespace outpost::hq
