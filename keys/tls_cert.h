// The node's TLS credentials: a self-signed X.509 certificate over the node signing key (Ed25519)
// and the matching private key, both as PEM text so that OpenSSL stays out of this header.
// Pure functions over their arguments; thread-safe (OpenSSL 3 needs no locking setup).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/status.h"

namespace hashmesh {

// Builds a self-signed X.509 v3 certificate (PEM) for `key`: subject = issuer = CN=`common_name`,
// a random 127-bit serial, valid from an hour before `now_ms` until 9999-12-31 (RFC 5280's "no
// expiry"), CA:FALSE, key usage digitalSignature, extended key usage serverAuth and clientAuth.
// Peers do not check the name or dates: they admit the certificate's key only when a trusted
// manifest certifies it. `common_name` must be 1-64 bytes. Errors: InvalidArgument, Internal.
Result<std::string> MakeSelfSignedCertificate(const SecretKey& key, std::string_view common_name,
                                              uint64_t now_ms);

// The Ed25519 private key for `seed` as PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), for
// SSL_CTX_use_PrivateKey via a memory BIO. The caller should wipe the string when done with it
// (e.g. OPENSSL_cleanse). TLS code may equally build the key from the seed with
// EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, ...), which avoids the copy.
Result<std::string> PrivateKeyPem(const Seed& seed);

// Parses a PEM certificate and returns its Ed25519 public key. Errors (InvalidArgument) when the
// text is not one PEM certificate, the key is not Ed25519, or the self-signature does not verify.
Result<PublicKey> CertificatePublicKey(std::string_view pem);

}  // namespace hashmesh
