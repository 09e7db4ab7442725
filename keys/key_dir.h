// A node's key directory: member key (optional), node signing key, the manifest certifying the
// node key, the node's TLS certificate and its name. Creating, loading and checking it.
//
// Layout of DIR (the directory itself 0700):
//   member.key    "ed25519-secret:<64 hex>\n", the member (master) key seed, 0600. May be absent:
//                 the trust admin may keep it offline after init.
//   node.key      same format, the node signing key seed, 0600.
//   manifest.bin  the current serialised pb::SignedManifest, exactly as signed, 0644. It certifies
//                 node.key for the member key; its seq starts at 1.
//   node.crt      self-signed X.509 certificate (PEM) over node.key, CN = name, 0644.
//   name          the node name and a newline, 0644.
// Every file is written atomically (temporary file, fsync, rename or link, fsync of the dir).
//
// Key rotation and revocation (node.key.next, revocation.bin) are in key_rotation.h.
//
// Thread-safety: the functions are thread-safe, but nothing stops two processes from writing the
// same directory at once; they are meant for one admin tool or one daemon per directory.
// InitCrypto() must have been called before any of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/crypto.h"
#include "common/manifest.h"
#include "common/status.h"

namespace hashmesh {

inline constexpr std::string_view kMemberKeyFile = "member.key";
inline constexpr std::string_view kNodeKeyFile = "node.key";
inline constexpr std::string_view kManifestFile = "manifest.bin";
inline constexpr std::string_view kCertificateFile = "node.crt";
inline constexpr std::string_view kNameFile = "name";

// What `hashmesh-keys show` prints; mirrors api.KeysInfo.
struct KeyDirInfo {
  std::string dir;
  std::string name;
  PublicKey member_key{};
  PublicKey signing_key{};
  uint32_t manifest_seq = 0;
  bool member_key_present = false;
  std::string certificate_path;
  bool revoked = false;           // revocation.bin holds a revocation of the member key
  bool rotation_pending = false;  // node.key.next waits for a signed manifest
};

// A loaded, checked key directory: what the daemon signs and shakes hands with. Move-only.
struct NodeIdentity {
  explicit NodeIdentity(SecretKey key) : node_key(std::move(key)) {}

  SecretKey node_key;          // signs records; its public key is the TLS key
  std::string manifest_bytes;  // serialised SignedManifest exactly as signed (for Hello, feeds)
  ManifestInfo manifest;       // parsed and verified; manifest.signing_key == node key
  std::string name;
  std::string dir;
  std::string certificate_path;
  std::string certificate_pem;  // contents of node.crt, checked to be over node_key
  bool member_key_present = false;
  bool rotation_pending = false;
  // A verified revocation of this member (revocation.bin), or empty. The node publishes it
  // (signed by node_key under `manifest`) and publishes nothing after it.
  std::string revocation_bytes;

  const PublicKey& member_key() const { return manifest.member_key; }
  KeyDirInfo Info() const;
};

// Creates DIR (and missing parents) if needed, sets it to 0700, and writes a fresh member key,
// node key, manifest (seq 1), certificate and name. Refuses (AlreadyExists, naming the file) if
// any of the five files exists already, so it never overwrites a key. Then loads the directory
// back as a check. Errors: InvalidArgument (bad name), AlreadyExists, IoError, PermissionDenied.
Result<KeyDirInfo> InitKeyDir(const std::string& dir, const std::string& name);

// Loads and checks DIR. Each error names the file and what is wrong with it:
//   NotFound          the directory or a required file is missing;
//   PermissionDenied  a secret key file is readable or writable by group or others (like ssh,
//                     it is refused), or cannot be read;
//   Corruption        a file does not parse, the manifest does not verify, or files do not match
//                     (manifest for another node key, member.key not the manifest's member,
//                     certificate over another key);
//   FailedPrecondition  manifest.bin itself is a revocation.
// Finishes a rotation interrupted after its commit point first (FinishInterruptedRotation).
// A directory that group or others may read only logs a warning.
Result<NodeIdentity> LoadNodeIdentity(const std::string& dir);

// What hashmeshd calls at start: InitKeyDir(dir, default_name) when DIR is missing or holds none
// of member.key, node.key and manifest.bin (logging a notice), else LoadNodeIdentity(dir).
Result<NodeIdentity> EnsureNodeIdentity(const std::string& dir, const std::string& default_name);

// ---- key files ------------------------------------------------------------------------------

// "ed25519-secret:<64 lowercase hex>" (no newline).
std::string SeedToText(const Seed& seed);
// Accepts the form above with optional trailing whitespace; InvalidArgument otherwise.
Result<Seed> SeedFromText(std::string_view text);

// Reads a secret key file, refusing one that group or others may access (PermissionDenied).
// Errors name `path`.
Result<SecretKey> ReadSecretKeyFile(const std::string& path);
// Writes `key` to `path` (mode 0600) atomically. Never replaces an existing file (AlreadyExists)
// unless `replace` (a rotation replacing node.key).
Status WriteSecretKeyFile(const std::string& path, const SecretKey& key, bool replace = false);

// Node and member names: 1-64 characters of letters, digits, '.', '_' and '-', not starting with
// '.' or '-'. `what` names the field in the error ("node name", "member name").
Status ValidateName(std::string_view name, std::string_view what);

// ---- file helpers (shared with key rotation and the trust store) -------------------------------

inline constexpr size_t kMaxManifestFileBytes = 64 * 1024;  // manifest.bin, requests, revocations
inline constexpr uint32_t kPublicFileMode = 0644;
inline constexpr uint32_t kSecretFileMode = 0600;

// DIR/FILE.
std::string KeyDirPath(const std::string& dir, std::string_view file);
// Whether `path` exists; anything but "no such file" counts as present, so that a caller refuses
// rather than overwrites, or reports the real error when it reads the file.
bool PathExists(const std::string& path);
// The node name in DIR/name, checked (Corruption if it is not a valid name).
Result<std::string> ReadNodeName(const std::string& dir);

// Reads a regular file of at most `max_size` bytes. Errors name `path`: NotFound, PermissionDenied,
// InvalidArgument (not a regular file, too large), IoError.
Result<std::string> ReadSmallFile(const std::string& path, size_t max_size);

// Writes `contents` to `path` with exactly `mode`: a temporary file in the same directory, fsync,
// then rename over `path` (replace = true) or link to `path` (replace = false: AlreadyExists if it
// exists), then fsync of the directory. On error no partial `path` is left behind.
Status WriteFileAtomic(const std::string& path, std::string_view contents, uint32_t mode,
                       bool replace);

}  // namespace hashmesh
