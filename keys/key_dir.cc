// Key directory creation and loading, key file text forms, and atomic small-file writes.
// Every check on file contents returns an error naming the file; nothing here asserts on input.
#include "keys/key_dir.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "keys/key_rotation.h"
#include "keys/tls_cert.h"

namespace hashmesh {
namespace {

constexpr std::string_view kSeedPrefix = "ed25519-secret:";
constexpr size_t kMaxKeyFile = 4096;
constexpr size_t kMaxNameFile = 4096;
constexpr size_t kMaxCertificateFile = 64 * 1024;
constexpr uint32_t kDirMode = 0700;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting close(2)'s error (which can carry a delayed write error).
  int Close() {
    int rc = close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

void Wipe(std::string& s) { sodium_memzero(s.data(), s.size()); }

std::string ModeText(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", mode & 07777);
  return buf;
}

Status ErrnoStatus(const std::string& path, std::string_view action, int err) {
  std::string message = path + ": " + std::string(action) + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return NotFound(message);
    case EACCES:
    case EPERM:
      return PermissionDenied(message);
    default:
      return IoError(message);
  }
}

std::string ParentDir(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// Reads a regular file of at most `max_size` bytes; with `secret`, refuses it before reading if
// group or others have any access to it.
Result<std::string> ReadRegularFile(const std::string& path, size_t max_size, bool secret) {
  // O_NONBLOCK: opening a FIFO planted at `path` must not hang; fstat then refuses it.
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ENOENT) return NotFound(path + ": missing");
    return ErrnoStatus(path, "cannot open", errno);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(path, "cannot stat", errno);
  if (!S_ISREG(st.st_mode)) return InvalidArgument(path + ": not a regular file");
  if (secret && (st.st_mode & 077) != 0) {
    return PermissionDenied(path + ": permissions " + ModeText(st.st_mode) +
                            " are too open: a secret key must not be accessible by group or "
                            "others (run: chmod 600 " +
                            path + ")");
  }
  if (static_cast<uint64_t>(st.st_size) > max_size) {
    return InvalidArgument(path + ": larger than " + std::to_string(max_size) + " bytes");
  }
  // A secret gets its whole buffer at once, so that no reallocation leaves an unwiped copy.
  std::string data;
  data.reserve((secret ? max_size : static_cast<size_t>(st.st_size)) + 1);
  char buf[4096];
  while (data.size() <= max_size) {
    ssize_t n = read(fd.get(), buf, std::min(sizeof(buf), max_size + 1 - data.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      Wipe(data);
      return ErrnoStatus(path, "cannot read", err);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  sodium_memzero(buf, sizeof(buf));
  if (data.size() > max_size) {
    Wipe(data);
    return InvalidArgument(path + ": larger than " + std::to_string(max_size) + " bytes");
  }
  return data;
}

// Removes one trailing newline (and a CR before it); anything else is part of the value.
std::string_view TrimLine(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return text;
}

Status FsyncDir(const std::string& dir) {
  Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(dir, "cannot open directory", errno);
  if (fsync(fd.get()) != 0) return ErrnoStatus(dir, "cannot fsync directory", errno);
  return Status::Ok();
}

// Makes DIR exist with mode 0700 when it is ours to set: created now, or existing and empty.
// A directory that already holds other files keeps its mode (it may be shared, e.g. a data dir
// whose owner chose its permissions); LoadNodeIdentity warns about a loose one.
Status PrepareDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  bool existed = fs::exists(dir, ec);
  if (ec) return IoError(dir + ": cannot check directory: " + ec.message());
  if (existed) {
    if (!fs::is_directory(dir, ec)) return InvalidArgument(dir + ": not a directory");
    bool empty = fs::is_empty(dir, ec);
    if (ec) return IoError(dir + ": cannot list directory: " + ec.message());
    if (!empty) return Status::Ok();
  } else {
    fs::create_directories(dir, ec);
    if (ec) return IoError(dir + ": cannot create directory: " + ec.message());
  }
  if (chmod(dir.c_str(), kDirMode) != 0) return ErrnoStatus(dir, "cannot chmod", errno);
  return Status::Ok();
}

Status CheckNoExistingFiles(const std::string& dir) {
  for (std::string_view file :
       {kMemberKeyFile, kNodeKeyFile, kManifestFile, kCertificateFile, kNameFile}) {
    std::string path = KeyDirPath(dir, file);
    if (PathExists(path)) {
      return AlreadyExists(path +
                           " already exists; refusing to overwrite keys (choose another "
                           "--dir, or move the old keys away deliberately)");
    }
  }
  return Status::Ok();
}

}  // namespace

std::string KeyDirPath(const std::string& dir, std::string_view file) {
  return (std::filesystem::path(dir) / file).string();
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 || errno != ENOENT;
}

Result<std::string> ReadNodeName(const std::string& dir) {
  std::string path = KeyDirPath(dir, kNameFile);
  HM_ASSIGN_OR_RETURN(std::string text, ReadRegularFile(path, kMaxNameFile, /*secret=*/false));
  std::string name(TrimLine(text));
  Status valid = ValidateName(name, "node name");
  if (!valid.ok()) return Corruption(path + ": corrupt: " + valid.message());
  return name;
}

KeyDirInfo NodeIdentity::Info() const {
  KeyDirInfo info;
  info.dir = dir;
  info.name = name;
  info.member_key = manifest.member_key;
  info.signing_key = node_key.public_key();
  info.manifest_seq = manifest.seq;
  info.member_key_present = member_key_present;
  info.certificate_path = certificate_path;
  info.revoked = !revocation_bytes.empty();
  info.rotation_pending = rotation_pending;
  return info;
}

std::string SeedToText(const Seed& seed) { return std::string(kSeedPrefix) + ToHex(seed); }

Result<Seed> SeedFromText(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  if (!text.starts_with(kSeedPrefix)) {
    return InvalidArgument("secret key must look like ed25519-secret:<64 hex characters>");
  }
  text.remove_prefix(kSeedPrefix.size());
  HM_ASSIGN_OR_RETURN(Bytes bytes, FromHex(text));
  Seed seed;
  if (bytes.size() != seed.size()) {
    sodium_memzero(bytes.data(), bytes.size());
    return InvalidArgument("secret key must be 64 hex characters, got " +
                           std::to_string(text.size()));
  }
  std::copy(bytes.begin(), bytes.end(), seed.begin());
  sodium_memzero(bytes.data(), bytes.size());
  return seed;
}

Result<SecretKey> ReadSecretKeyFile(const std::string& path) {
  HM_ASSIGN_OR_RETURN(std::string text, ReadRegularFile(path, kMaxKeyFile, /*secret=*/true));
  Result<Seed> seed = SeedFromText(text);
  Wipe(text);
  if (!seed.ok()) return Corruption(path + ": corrupt: " + seed.status().message());
  SecretKey key = SecretKey::FromSeed(*seed);
  sodium_memzero(seed->data(), seed->size());
  return key;
}

Status WriteSecretKeyFile(const std::string& path, const SecretKey& key, bool replace) {
  std::string text = SeedToText(key.seed()) + "\n";
  Status status = WriteFileAtomic(path, text, kSecretFileMode, replace);
  Wipe(text);
  return status;
}

Status ValidateName(std::string_view name, std::string_view what) {
  if (name.empty() || name.size() > 64) {
    return InvalidArgument(std::string(what) + " must be 1-64 characters, got " +
                           std::to_string(name.size()));
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return InvalidArgument(std::string(what) + " '" + std::string(name) +
                             "' may hold only letters, digits, '.', '_' and '-'");
    }
  }
  if (name.front() == '.' || name.front() == '-') {
    return InvalidArgument(std::string(what) + " '" + std::string(name) +
                           "' must not start with '.' or '-'");
  }
  return Status::Ok();
}

Result<std::string> ReadSmallFile(const std::string& path, size_t max_size) {
  return ReadRegularFile(path, max_size, /*secret=*/false);
}

Status WriteFileAtomic(const std::string& path, std::string_view contents, uint32_t mode,
                       bool replace) {
  std::string dir = ParentDir(path);
  std::string tmp_template = path + ".tmp.XXXXXX";
  std::vector<char> tmp(tmp_template.begin(), tmp_template.end());
  tmp.push_back('\0');
  Fd fd(mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(path, "cannot create temporary file", errno);
  std::string tmp_path(tmp.data());

  Status status;
  // mkostemp creates 0600; set the exact mode whatever the umask.
  if (fchmod(fd.get(), mode) != 0) status = ErrnoStatus(tmp_path, "cannot chmod", errno);
  size_t done = 0;
  while (status.ok() && done < contents.size()) {
    ssize_t n = write(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = ErrnoStatus(tmp_path, "cannot write", errno);
    } else {
      done += static_cast<size_t>(n);
    }
  }
  if (status.ok() && fsync(fd.get()) != 0) status = ErrnoStatus(tmp_path, "cannot fsync", errno);
  if (fd.Close() != 0 && status.ok()) status = ErrnoStatus(tmp_path, "cannot close", errno);

  if (status.ok()) {
    if (replace) {
      if (rename(tmp_path.c_str(), path.c_str()) != 0) {
        status = ErrnoStatus(path, "cannot rename into place", errno);
      }
    } else if (link(tmp_path.c_str(), path.c_str()) != 0) {
      // link(2) refuses to replace atomically; rename(2) would silently overwrite.
      if (errno == EEXIST) {
        status = AlreadyExists(path + " already exists; refusing to overwrite it");
      } else {
        status = ErrnoStatus(path, "cannot link into place", errno);
      }
    }
  }
  // After a rename the temporary name is gone already; after a link (or an error) remove it.
  if (!(status.ok() && replace)) unlink(tmp_path.c_str());
  HM_RETURN_IF_ERROR(status);
  return FsyncDir(dir);
}

Result<KeyDirInfo> InitKeyDir(const std::string& dir, const std::string& name) {
  HM_RETURN_IF_ERROR(ValidateName(name, "node name"));
  HM_RETURN_IF_ERROR(PrepareDir(dir));
  HM_RETURN_IF_ERROR(CheckNoExistingFiles(dir));

  SecretKey member = SecretKey::Generate();
  SecretKey node = SecretKey::Generate();
  uint64_t now_ms = NowMs();
  HM_ASSIGN_OR_RETURN(std::string manifest, BuildSignedManifest(member, &node, /*seq=*/1, now_ms,
                                                                /*compromised_after=*/0));
  HM_ASSIGN_OR_RETURN(std::string certificate, MakeSelfSignedCertificate(node, name, now_ms));

  // manifest.bin last: a directory without it was never completely initialised.
  HM_RETURN_IF_ERROR(WriteSecretKeyFile(KeyDirPath(dir, kMemberKeyFile), member));
  HM_RETURN_IF_ERROR(WriteSecretKeyFile(KeyDirPath(dir, kNodeKeyFile), node));
  HM_RETURN_IF_ERROR(WriteFileAtomic(KeyDirPath(dir, kCertificateFile), certificate, kPublicFileMode,
                                     /*replace=*/false));
  HM_RETURN_IF_ERROR(
      WriteFileAtomic(KeyDirPath(dir, kNameFile), name + "\n", kPublicFileMode, /*replace=*/false));
  HM_RETURN_IF_ERROR(
      WriteFileAtomic(KeyDirPath(dir, kManifestFile), manifest, kPublicFileMode, /*replace=*/false));

  // Read everything back, so that init reports exactly what a later load will see.
  HM_ASSIGN_OR_RETURN(NodeIdentity identity, LoadNodeIdentity(dir));
  return identity.Info();
}

Result<NodeIdentity> LoadNodeIdentity(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return NotFound(dir +
                      ": key directory does not exist (create it with: hashmesh-keys init "
                      "--dir " +
                      dir + " --name NAME)");
    }
    return ErrnoStatus(dir, "cannot stat key directory", errno);
  }
  if (!S_ISDIR(st.st_mode)) return InvalidArgument(dir + ": not a directory");
  if ((st.st_mode & 077) != 0) {
    LogWarning("key directory is accessible by group or others")
        .Kv("dir", dir)
        .Kv("mode", ModeText(st.st_mode))
        .Kv("hint", "chmod 700");
  }

  HM_ASSIGN_OR_RETURN(std::string name, ReadNodeName(dir));
  HM_RETURN_IF_ERROR(FinishInterruptedRotation(dir));

  std::string node_path = KeyDirPath(dir, kNodeKeyFile);
  HM_ASSIGN_OR_RETURN(SecretKey node_key, ReadSecretKeyFile(node_path));
  NodeIdentity identity(std::move(node_key));
  identity.dir = dir;
  identity.name = std::move(name);
  const PublicKey& node_public = identity.node_key.public_key();

  std::string manifest_path = KeyDirPath(dir, kManifestFile);
  HM_ASSIGN_OR_RETURN(identity.manifest_bytes,
                      ReadRegularFile(manifest_path, kMaxManifestFileBytes, /*secret=*/false));
  Result<ManifestInfo> manifest = VerifySignedManifest(identity.manifest_bytes);
  if (!manifest.ok()) {
    return Corruption(manifest_path + ": corrupt: " + manifest.status().message());
  }
  identity.manifest = *manifest;
  if (identity.manifest.revoked()) {
    return FailedPrecondition(manifest_path + ": revokes member key " +
                              KeyToText(identity.manifest.member_key) +
                              "; this member can no longer publish");
  }
  if (identity.manifest.signing_key != node_public) {
    return Corruption(manifest_path + ": mismatched: certifies signing key " +
                      KeyToText(*identity.manifest.signing_key) + " but " + node_path + " holds " +
                      KeyToText(node_public));
  }

  std::string member_path = KeyDirPath(dir, kMemberKeyFile);
  Result<SecretKey> member = ReadSecretKeyFile(member_path);
  if (member.ok()) {
    if (member->public_key() != identity.manifest.member_key) {
      return Corruption(member_path + ": mismatched: holds member key " +
                        KeyToText(member->public_key()) + " but " + manifest_path + " is for " +
                        KeyToText(identity.manifest.member_key));
    }
    identity.member_key_present = true;
  } else if (member.status().code() != StatusCode::kNotFound) {
    return member.status();
  }

  identity.rotation_pending = PathExists(KeyDirPath(dir, kNextNodeKeyFile));
  std::string revocation_path = KeyDirPath(dir, kRevocationFile);
  if (PathExists(revocation_path)) {
    HM_ASSIGN_OR_RETURN(identity.revocation_bytes,
                        ReadRegularFile(revocation_path, kMaxManifestFileBytes, /*secret=*/false));
    Result<ManifestInfo> revocation = VerifySignedManifest(identity.revocation_bytes);
    if (!revocation.ok()) {
      return Corruption(revocation_path + ": corrupt: " + revocation.status().message());
    }
    if (!revocation->revoked() || revocation->member_key != identity.manifest.member_key) {
      return Corruption(revocation_path + ": not a revocation of member " +
                        KeyToText(identity.manifest.member_key));
    }
  }

  identity.certificate_path = KeyDirPath(dir, kCertificateFile);
  HM_ASSIGN_OR_RETURN(
      identity.certificate_pem,
      ReadRegularFile(identity.certificate_path, kMaxCertificateFile, /*secret=*/false));
  Result<PublicKey> cert_key = CertificatePublicKey(identity.certificate_pem);
  if (!cert_key.ok()) {
    return Corruption(identity.certificate_path + ": corrupt: " + cert_key.status().message());
  }
  if (*cert_key != node_public) {
    return Corruption(identity.certificate_path + ": mismatched: certificate key " +
                      KeyToText(*cert_key) + " is not " + node_path + " (" +
                      KeyToText(node_public) + ")");
  }
  return identity;
}

Result<NodeIdentity> EnsureNodeIdentity(const std::string& dir, const std::string& default_name) {
  bool has_keys = false;
  for (std::string_view file : {kMemberKeyFile, kNodeKeyFile, kManifestFile}) {
    if (PathExists(KeyDirPath(dir, file))) has_keys = true;
  }
  if (!has_keys) {
    HM_ASSIGN_OR_RETURN(KeyDirInfo info, InitKeyDir(dir, default_name));
    LogNotice("created node keys")
        .Kv("dir", dir)
        .Kv("name", info.name)
        .Kv("member", KeyToText(info.member_key))
        .Kv("signing_key", KeyToText(info.signing_key));
  }
  return LoadNodeIdentity(dir);
}

}  // namespace hashmesh
