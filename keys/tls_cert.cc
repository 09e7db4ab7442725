// Self-signed Ed25519 X.509 certificates and PEM private keys with OpenSSL 3. Every OpenSSL object
// is owned by a unique_ptr, and the OpenSSL error queue is drained into the returned Status.
#include "keys/tls_cert.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include "common/openssl_util.h"

namespace hashmesh {
namespace {


Result<OsslPtr<EVP_PKEY>> PkeyFromSeed(const Seed& seed) {
  OsslPtr<EVP_PKEY> pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!pkey) return OpenSslError("EVP_PKEY_new_raw_private_key");
  return pkey;
}

Result<std::string> BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len < 0 || (len > 0 && data == nullptr)) return OpenSslError("BIO_get_mem_data");
  return std::string(data, static_cast<size_t>(len));
}

Status AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  OsslPtr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext) return OpenSslError(std::string("X509V3_EXT_conf_nid ") + value);
  if (X509_add_ext(cert, ext.get(), -1) != 1) return OpenSslError("X509_add_ext");
  return Status::Ok();
}

Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return OpenSslError("RAND_bytes");
  bytes[0] &= 0x7f;  // serials are positive INTEGERs
  bytes[0] |= 0x40;  // and keep their full length
  OsslPtr<BIGNUM> bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslError("serial number");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> MakeSelfSignedCertificate(const SecretKey& key, std::string_view common_name,
                                              uint64_t now_ms) {
  // ub-common-name in RFC 5280.
  if (common_name.empty() || common_name.size() > 64) {
    return InvalidArgument("certificate common name must be 1-64 bytes");
  }
  HM_ASSIGN_OR_RETURN(OsslPtr<EVP_PKEY> pkey, PkeyFromSeed(key.seed()));
  OsslPtr<X509> cert(X509_new());
  if (!cert) return OpenSslError("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return OpenSslError("X509_set_version");
  HM_RETURN_IF_ERROR(SetRandomSerial(cert.get()));

  // An hour of slack for peers whose clocks run behind.
  time_t not_before = static_cast<time_t>(now_ms / 1000) - 3600;
  if (X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &not_before) == nullptr ||
      ASN1_TIME_set_string_X509(X509_getm_notAfter(cert.get()), "99991231235959Z") != 1) {
    return OpenSslError("certificate validity");
  }

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return OpenSslError("certificate name");
  }
  if (X509_set_pubkey(cert.get(), pkey.get()) != 1) return OpenSslError("X509_set_pubkey");

  HM_RETURN_IF_ERROR(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  HM_RETURN_IF_ERROR(AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature"));
  HM_RETURN_IF_ERROR(AddExtension(cert.get(), NID_ext_key_usage, "serverAuth,clientAuth"));
  HM_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_key_identifier, "hash"));

  // Ed25519 signs the message itself: no separate digest.
  if (X509_sign(cert.get(), pkey.get(), nullptr) <= 0) return OpenSslError("X509_sign");

  OsslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1) {
    return OpenSslError("PEM_write_bio_X509");
  }
  return BioContents(bio.get());
}

Result<std::string> PrivateKeyPem(const Seed& seed) {
  HM_ASSIGN_OR_RETURN(OsslPtr<EVP_PKEY> pkey, PkeyFromSeed(seed));
  // Secure heap memory where available, so the BIO's copy is wiped when freed.
  OsslPtr<BIO> bio(BIO_new(BIO_s_secmem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("PEM_write_bio_PrivateKey");
  }
  return BioContents(bio.get());
}

Result<PublicKey> CertificatePublicKey(std::string_view pem) {
  if (pem.size() > (1 << 20)) return InvalidArgument("certificate is larger than 1 MiB");
  OsslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslError("BIO_new_mem_buf");
  OsslPtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return InvalidArgument("not a PEM certificate");
  }
  EVP_PKEY* pkey = X509_get0_pubkey(cert.get());  // owned by cert
  if (pkey == nullptr || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
    ERR_clear_error();
    return InvalidArgument("certificate key is not Ed25519");
  }
  if (X509_verify(cert.get(), pkey) != 1) {
    ERR_clear_error();
    return InvalidArgument("certificate self-signature does not verify");
  }
  PublicKey key;
  size_t len = key.size();
  if (EVP_PKEY_get_raw_public_key(pkey, key.data(), &len) != 1 || len != key.size()) {
    return OpenSslError("EVP_PKEY_get_raw_public_key");
  }
  return key;
}

}  // namespace hashmesh
