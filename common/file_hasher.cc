// Hashing image files: read once, MD5 and SHA-256 of the bytes, decode only what PDQ samples,
// PDQ with one scratch hasher per thread; HashFiles spreads files over a small thread pool.
#include "common/file_hasher.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <new>
#include <optional>
#include <system_error>
#include <thread>

#include "common/crypto.h"
#include "common/hex.h"
#include "common/image_decode.h"
#include "common/pdq_hasher.h"

namespace hashmesh {
namespace {

namespace fs = std::filesystem;

Result<std::vector<uint8_t>> ReadFile(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if ((ec && ec != std::errc::no_such_file_or_directory) || st.type() == fs::file_type::unknown) {
    return IoError(path + ": " + (ec ? ec.message() : "cannot be examined"));
  }
  if (!fs::exists(st)) return NotFound(path + ": no such file");
  if (fs::is_directory(st)) return InvalidArgument(path + ": is a directory");
  const auto too_large = [&] {
    return ResourceExhausted(path + ": larger than the limit of " + std::to_string(max_bytes) +
                             " bytes");
  };
  // The size is a hint (the file may change while read, or be a pipe); the limit is enforced on
  // what is actually read, with one byte more than the hint to see the end of the file.
  const uintmax_t hint = fs::is_regular_file(st) ? fs::file_size(path, ec) : 0;
  if (!ec && hint > max_bytes) return too_large();
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return IoError(path + ": " + std::strerror(errno));
  std::vector<uint8_t> bytes(std::min<uint64_t>(ec ? 0 : hint, max_bytes) + 1);
  size_t size = 0;
  Status status;
  for (;;) {
    size += std::fread(bytes.data() + size, 1, bytes.size() - size, f);
    if (size < bytes.size()) {
      if (std::ferror(f)) status = IoError(path + ": read error");
      break;
    }
    if (size > max_bytes) {
      status = too_large();
      break;
    }
    bytes.resize(std::min<uint64_t>(max_bytes + 1, std::max<size_t>(bytes.size() * 2, 1 << 16)));
  }
  std::fclose(f);
  if (!status.ok()) return status;
  bytes.resize(size);
  return bytes;
}

bool HasImageExtension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

Result<FileHashes> HashFileUnguarded(const std::string& path, const HashOptions& options) {
  HM_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadFile(path, options.max_file_bytes));
  DecodeOptions decode_options;
  decode_options.max_pixels = options.max_pixels;
  decode_options.squash_for_pdq = true;
  auto decoded = DecodeImage(bytes, decode_options);
  if (!decoded.ok()) return decoded.status().WithContext(path);

  // A quarter MiB of scratch per thread, reused for every file the thread hashes.
  thread_local PdqHasher hasher;
  HM_ASSIGN_OR_RETURN(PdqResult pdq, hasher.Hash(decoded->view(), options.dihedral));

  FileHashes out;
  out.file = path;
  out.pdq = pdq.hash;
  out.quality = pdq.quality;
  out.dihedral = std::move(pdq.dihedral);
  out.width = decoded->source_width;
  out.height = decoded->source_height;
  out.md5 = ToHex(Md5(bytes));
  out.sha256 = ToHex(Sha256(bytes));
  return out;
}

}  // namespace

Result<FileHashes> HashFile(const std::string& path, const HashOptions& options) {
  try {
    return HashFileUnguarded(path, options);
  } catch (const std::bad_alloc&) {
    // A file near max_file_bytes, or the per-thread scratch, can exceed the memory there is.
    return ResourceExhausted(path + ": out of memory");
  }
}

Result<std::vector<std::string>> ExpandImagePaths(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const std::string& arg : args) {
    std::error_code ec;
    if (!fs::is_directory(arg, ec)) {
      out.push_back(arg);  // a missing file is reported by HashFile, in its place
      continue;
    }
    std::vector<std::string> found;
    fs::recursive_directory_iterator it(arg, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code file_ec;
      if (it->is_regular_file(file_ec) && HasImageExtension(it->path())) {
        found.push_back(it->path().string());
      }
    }
    if (ec) return IoError(arg + ": " + ec.message());
    // Directory order is arbitrary; sorted output makes runs reproducible.
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

std::vector<Result<FileHashes>> HashFiles(const std::vector<std::string>& paths,
                                          const HashOptions& options, int threads,
                                          const std::function<void(size_t, size_t)>& progress) {
  const size_t total = paths.size();
  std::vector<std::optional<Result<FileHashes>>> slots(total);
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < total; i = next.fetch_add(1)) {
      slots[i].emplace(HashFile(paths[i], options));
      const size_t finished = done.fetch_add(1) + 1;
      if (progress) progress(finished, total);
    }
  };
  size_t n = threads > 0 ? static_cast<size_t>(threads)
                         : std::max(1u, std::thread::hardware_concurrency());
  n = std::min(n, std::max<size_t>(total, 1));
  if (n == 1) {
    work();  // no thread to start for a single worker
  } else {
    std::vector<std::thread> pool;
    pool.reserve(n);
    for (size_t t = 0; t < n; ++t) {
      try {
        pool.emplace_back(work);
      } catch (const std::system_error&) {
        break;  // out of threads: the ones started (or this one) do all the work
      }
    }
    if (pool.empty()) work();
    for (std::thread& t : pool) t.join();
  }
  std::vector<Result<FileHashes>> results;
  results.reserve(total);
  for (auto& slot : slots) results.push_back(std::move(*slot));
  return results;
}

}  // namespace hashmesh
