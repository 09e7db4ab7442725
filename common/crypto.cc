// libsodium-backed signing and hashing.
#include "common/crypto.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <cstring>
#include <vector>

namespace hashmesh {
namespace {

std::vector<uint8_t> Prefixed(std::string_view purpose, std::span<const uint8_t> message) {
  std::vector<uint8_t> buf;
  buf.reserve(purpose.size() + 1 + message.size());
  buf.insert(buf.end(), purpose.begin(), purpose.end());
  buf.push_back(0);
  buf.insert(buf.end(), message.begin(), message.end());
  return buf;
}

}  // namespace

bool InitCrypto() { return sodium_init() >= 0; }

SecretKey SecretKey::Generate() {
  Seed seed;
  randombytes_buf(seed.data(), seed.size());
  SecretKey key = FromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return key;
}

SecretKey SecretKey::FromSeed(const Seed& seed) {
  SecretKey key;
  key.seed_ = seed;
  crypto_sign_seed_keypair(key.public_key_.data(), key.expanded_.data(), seed.data());
  return key;
}

SecretKey::SecretKey(SecretKey&& other) noexcept
    : seed_(other.seed_), public_key_(other.public_key_), expanded_(other.expanded_) {
  sodium_memzero(other.seed_.data(), other.seed_.size());
  sodium_memzero(other.expanded_.data(), other.expanded_.size());
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    seed_ = other.seed_;
    public_key_ = other.public_key_;
    expanded_ = other.expanded_;
    sodium_memzero(other.seed_.data(), other.seed_.size());
    sodium_memzero(other.expanded_.data(), other.expanded_.size());
  }
  return *this;
}

SecretKey::~SecretKey() {
  sodium_memzero(seed_.data(), seed_.size());
  sodium_memzero(expanded_.data(), expanded_.size());
}

Signature SecretKey::Sign(std::string_view purpose, std::span<const uint8_t> message) const {
  std::vector<uint8_t> buf = Prefixed(purpose, message);
  Signature sig;
  crypto_sign_detached(sig.data(), nullptr, buf.data(), buf.size(), expanded_.data());
  return sig;
}

bool Verify(const PublicKey& key, std::string_view purpose, std::span<const uint8_t> message,
            std::span<const uint8_t> signature) {
  std::vector<uint8_t> buf = Prefixed(purpose, message);
  return VerifyEd25519(key, buf, signature);
}

bool VerifyEd25519(std::span<const uint8_t> key, std::span<const uint8_t> message,
                   std::span<const uint8_t> signature) {
  if (signature.size() != crypto_sign_BYTES || key.size() != crypto_sign_PUBLICKEYBYTES) {
    return false;
  }
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     key.data()) == 0;
}

// SHA-256 through OpenSSL, which uses the CPU's SHA extensions where present (about 6x libsodium's
// portable code on large files, which matters for `hashmesh hash`).
Sha256Digest Sha256(std::span<const uint8_t> data) {
  Sha256Digest out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

Sha256Digest Sha256WithPurpose(std::string_view purpose, std::span<const uint8_t> data) {
  Sha256Digest out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const uint8_t nul = 0;
  unsigned int len = 0;
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, purpose.data(), purpose.size());
  EVP_DigestUpdate(ctx, &nul, 1);
  EVP_DigestUpdate(ctx, data.data(), data.size());
  EVP_DigestFinal_ex(ctx, out.data(), &len);
  EVP_MD_CTX_free(ctx);
  return out;
}

std::array<uint8_t, 16> Md5(std::span<const uint8_t> data) {
  std::array<uint8_t, 16> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_md5(), nullptr);
  return out;
}

}  // namespace hashmesh
