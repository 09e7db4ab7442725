// The peer TLS policy as OpenSSL 3 settings and callbacks: TLS 1.3 only, ALPN hashmesh/1 required
// both ways, and mutual self-signed Ed25519 certificates checked by key type and self-signature.
#include "daemon/net/peer_tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>
#include <openssl/x509.h>

#include <memory>
#include <string_view>

#include "common/openssl_util.h"
#include "daemon/net/peer_transport.h"  // kPeerAlpn

namespace hashmesh {
namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};

// ALPN wire form: one length byte, then the name.
constexpr unsigned char kAlpnWire[] = {10, 'h', 'a', 's', 'h', 'm', 'e', 's', 'h', '/', '1'};
static_assert(sizeof(kAlpnWire) == 1 + kPeerAlpn.size());

int NotesIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Records the first reason for a refusal; later ones are consequences of it.
void Note(SSL* ssl, std::string text) {
  auto* notes = static_cast<std::string*>(SSL_get_ex_data(ssl, NotesIndex()));
  if (notes != nullptr && notes->empty()) *notes = std::move(text);
}

// Peer-chosen bytes go into logs: keep them printable and short.
std::string Printable(std::string_view bytes) {
  std::string out;
  for (char c : bytes.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (bytes.size() > 64) out += "...";
  return out;
}

// Server side, before anything else is looked at: a client that offers no ALPN at all would
// otherwise get through, because OpenSSL only calls the ALPN callback when the extension exists.
int CheckClientHello(SSL* ssl, int* alert, void*) {
  const unsigned char* ext = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext,
                                &len) != 1) {
    Note(ssl, "client offered no ALPN (hashmesh/1 required)");
    *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
    return SSL_CLIENT_HELLO_ERROR;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

int SelectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  std::string offered;
  unsigned int i = 0;
  while (i < inlen) {
    unsigned int len = in[i];
    if (len == 0 || len > inlen - i - 1) break;  // malformed; OpenSSL checks this too
    std::string_view name(reinterpret_cast<const char*>(in + i + 1), len);
    if (name == kPeerAlpn) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    if (!offered.empty()) offered += ",";
    offered += Printable(name);
    i += 1 + len;
  }
  Note(ssl, "client offered ALPN " + (offered.empty() ? std::string("(none)") : offered) +
                ", not hashmesh/1");
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // alert no_application_protocol
}

// Replaces chain verification on both sides: there is no CA, and identity is decided later by
// the sync layer from manifests, so only the key type and the self-signature matter here.
int VerifyPeerCertificate(X509_STORE_CTX* store, void*) {
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  std::string problem = PeerCertificateProblem(X509_STORE_CTX_get0_cert(store));
  if (problem.empty()) return 1;
  if (ssl != nullptr) Note(ssl, "peer certificate refused: " + problem);
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

// For refusal messages: the usual names rather than OIDs' short names ("rsaEncryption").
std::string KeyTypeName(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      return "RSA";
    case EVP_PKEY_RSA_PSS:
      return "RSA-PSS";
    case EVP_PKEY_EC:
      return "ECDSA";
    case EVP_PKEY_ED448:
      return "Ed448";
    case EVP_PKEY_DSA:
      return "DSA";
    default: {
      const char* name = OBJ_nid2sn(EVP_PKEY_get_base_id(key));
      return name != nullptr ? name : "unknown";
    }
  }
}

}  // namespace

std::string PeerCertificateProblem(X509* cert) {
  if (cert == nullptr) return "no certificate";
  EVP_PKEY* key = X509_get0_pubkey(cert);  // owned by cert
  if (key == nullptr) {
    ERR_clear_error();
    return "certificate key cannot be read";
  }
  if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    return "certificate key is not Ed25519 (" + KeyTypeName(key) + ")";
  }
  if (X509_verify(cert, key) != 1) {
    ERR_clear_error();
    return "certificate self-signature does not verify";
  }
  return "";
}

Result<SSL_CTX*> NewPeerTlsContext(const Seed& node_seed, const std::string& cert_pem,
                                   PublicKey* local_key) {
  OsslPtr<EVP_PKEY> pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, node_seed.data(), node_seed.size()));
  if (!pkey) return OpenSslError("EVP_PKEY_new_raw_private_key");
  size_t key_len = local_key->size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), local_key->data(), &key_len) != 1 ||
      key_len != local_key->size()) {
    return OpenSslError("EVP_PKEY_get_raw_public_key");
  }

  if (cert_pem.size() > (1 << 20)) return InvalidArgument("certificate is larger than 1 MiB");
  OsslPtr<BIO> bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  if (!bio) return OpenSslError("BIO_new_mem_buf");
  OsslPtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return InvalidArgument("node certificate is not a PEM certificate");
  }
  if (std::string problem = PeerCertificateProblem(cert.get()); !problem.empty()) {
    return InvalidArgument("node certificate: " + problem);
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), pkey.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument("node certificate is not over the node signing key");
  }

  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return OpenSslError("SSL_CTX_new");
  SSL_CTX* c = ctx.get();
  if (SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) != 1) {
    return OpenSslError("TLS 1.3 only");
  }
  // Resumption would skip the certificate exchange that identity rests on; 0-RTT data would be
  // replayable. TLS 1.3 has no renegotiation, the option is belt and braces.
  SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_num_tickets(c, 0) != 1 || SSL_CTX_set_max_early_data(c, 0) != 1 ||
      SSL_CTX_set_recv_max_early_data(c, 0) != 1) {
    return OpenSslError("disabling tickets and early data");
  }

  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_cert_verify_callback(c, VerifyPeerCertificate, nullptr);
  if (SSL_CTX_set_alpn_protos(c, kAlpnWire, sizeof(kAlpnWire)) != 0) {  // 0 is success here
    return OpenSslError("SSL_CTX_set_alpn_protos");
  }
  SSL_CTX_set_alpn_select_cb(c, SelectAlpn, nullptr);
  SSL_CTX_set_client_hello_cb(c, CheckClientHello, nullptr);

  if (SSL_CTX_use_certificate(c, cert.get()) != 1) return OpenSslError("SSL_CTX_use_certificate");
  if (SSL_CTX_use_PrivateKey(c, pkey.get()) != 1) return OpenSslError("SSL_CTX_use_PrivateKey");
  if (SSL_CTX_check_private_key(c) != 1) return OpenSslError("SSL_CTX_check_private_key");
  return ctx.release();
}

void AttachPeerTlsNotes(SSL* ssl, std::string* notes) { SSL_set_ex_data(ssl, NotesIndex(), notes); }

Result<PublicKey> EstablishedPeerKey(SSL* ssl) {
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  std::string_view selected(reinterpret_cast<const char*>(alpn), alpn ? alpn_len : 0);
  if (selected != kPeerAlpn) {
    return PermissionDenied(selected.empty() ? std::string("no ALPN agreed (hashmesh/1 required)")
                                             : "ALPN " + Printable(selected) + " agreed, not " +
                                                   std::string(kPeerAlpn));
  }
  // The verify callback has checked it already; checked again because identity rests on it.
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (std::string problem = PeerCertificateProblem(cert); !problem.empty()) {
    return PermissionDenied("peer certificate refused: " + problem);
  }
  PublicKey key;
  size_t len = key.size();
  if (EVP_PKEY_get_raw_public_key(X509_get0_pubkey(cert), key.data(), &len) != 1 ||
      len != key.size()) {
    ERR_clear_error();
    return PermissionDenied("cannot read the peer's Ed25519 key");
  }
  return key;
}

}  // namespace hashmesh
