// Ed25519 signing with domain separation, and SHA-256, over libsodium. Every signature covers
// "<purpose>\0" || message, so a signature made for one purpose never verifies for another.
// SecretKey is move-only and wipes its seed on destruction. All functions are thread-safe once
// InitCrypto() has returned.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/hex.h"

namespace hashmesh {

using Signature = std::array<uint8_t, 64>;
using Seed = std::array<uint8_t, 32>;
using Sha256Digest = std::array<uint8_t, 32>;

// Purposes (the trailing NUL is added by Sign/Verify).
inline constexpr std::string_view kRecordPurpose = "hashmesh/record/v1";
inline constexpr std::string_view kManifestPurpose = "hashmesh/manifest/v1";
inline constexpr std::string_view kRecordIdPurpose = "hashmesh/id/v1";

// Initialises libsodium; call once at start (idempotent). Returns false if it failed.
bool InitCrypto();

class SecretKey {
 public:
  static SecretKey Generate();
  static SecretKey FromSeed(const Seed& seed);

  SecretKey(SecretKey&&) noexcept;
  SecretKey& operator=(SecretKey&&) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey();

  const PublicKey& public_key() const { return public_key_; }
  const Seed& seed() const { return seed_; }
  Signature Sign(std::string_view purpose, std::span<const uint8_t> message) const;
  Signature Sign(std::string_view purpose, std::string_view message) const {
    return Sign(purpose, AsBytes(message));
  }

 private:
  SecretKey() = default;
  Seed seed_{};
  PublicKey public_key_{};
  std::array<uint8_t, 64> expanded_{};  // libsodium's secret key form (seed || public key)
};

bool Verify(const PublicKey& key, std::string_view purpose, std::span<const uint8_t> message,
            std::span<const uint8_t> signature);
// Plain Ed25519 verification without a purpose prefix (libsodium's rules: canonical S, no
// small-order keys). Every node uses this one function, so all nodes agree on validity.
bool VerifyEd25519(std::span<const uint8_t> key, std::span<const uint8_t> message,
                   std::span<const uint8_t> signature);
inline bool Verify(const PublicKey& key, std::string_view purpose, std::string_view message,
                   std::string_view signature) {
  return Verify(key, purpose, AsBytes(message), AsBytes(signature));
}

Sha256Digest Sha256(std::span<const uint8_t> data);
// SHA-256("<purpose>\0" || data).
Sha256Digest Sha256WithPurpose(std::string_view purpose, std::span<const uint8_t> data);

// Plain MD5 for the MD5 signal type (libsodium has none; this uses OpenSSL's EVP).
std::array<uint8_t, 16> Md5(std::span<const uint8_t> data);

}  // namespace hashmesh
