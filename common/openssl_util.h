// Small OpenSSL helpers shared by the certificate and TLS code: owning pointers for libcrypto
// objects and a Status from the thread's OpenSSL error queue. Include only in .cc files.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hashmesh {

struct OpenSslFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using OsslPtr = std::unique_ptr<T, OpenSslFree>;

// "what: <first OpenSSL error>" as Internal; clears the thread's error queue so that a later,
// unrelated OpenSSL call on this thread does not pick up a stale error.
inline Status OpenSslError(std::string_view what) {
  unsigned long code = ERR_get_error();
  std::string message(what);
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    message += ": ";
    message += buf;
  }
  ERR_clear_error();
  return Internal(message);
}

}  // namespace hashmesh
