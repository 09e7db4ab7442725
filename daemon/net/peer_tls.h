// TLS policy for peer connections, over plain OpenSSL: one SSL_CTX for both roles that allows
// only TLS 1.3, ALPN "hashmesh/1", and mutual self-signed Ed25519 certificates. Used by
// daemon/net/peer_transport.cc; kept apart so that the policy can be read (and compiled) without Asio.
#pragma once

#include <openssl/types.h>

#include <string>

#include "common/crypto.h"
#include "common/status.h"

namespace hashmesh {

// A new SSL_CTX (the caller owns it; SSL_CTX_free) set up for both client and server use:
//  - TLS 1.3 only (min and max), no session tickets or session cache, no renegotiation, no
//    early data;
//  - our certificate `cert_pem` and the Ed25519 key made from `node_seed`; the certificate must
//    be over that key (InvalidArgument otherwise);
//  - the peer must present a certificate (the server requests and requires one) whose key is
//    Ed25519 and whose self-signature verifies; no CA, names or dates are checked;
//  - as a client it offers ALPN "hashmesh/1"; as a server it refuses a ClientHello that does
//    not offer it (alert no_application_protocol).
// Sets *local_key to our public key. Errors: InvalidArgument, Internal (OpenSSL).
Result<SSL_CTX*> NewPeerTlsContext(const Seed& node_seed, const std::string& cert_pem,
                                   PublicKey* local_key);

// Gives the policy callbacks of `ssl` a place to explain a refusal (e.g. "client offered no
// ALPN"), read after a failed handshake. `notes` must outlive the handshake.
void AttachPeerTlsNotes(SSL* ssl, std::string* notes);

// After a successful handshake: checks that ALPN "hashmesh/1" was agreed and returns the peer's
// Ed25519 key. PermissionDenied when either is missing.
Result<PublicKey> EstablishedPeerKey(SSL* ssl);

// Why `cert` is not acceptable as a peer certificate, or "" when it is: its key must be Ed25519
// and its self-signature must verify.
std::string PeerCertificateProblem(X509* cert);

}  // namespace hashmesh
