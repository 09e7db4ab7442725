// Hashing files for `hashmesh hash` and `hashmesh match FILE`: decodes JPEG/PNG in this process
// (never in the daemon), computes PDQ (+ optional dihedral variants), MD5 and SHA-256 of the file
// bytes. Part of hashmesh_image. Thread-safe: HashFile may run on many threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/pdq_hash.h"
#include "common/status.h"

namespace hashmesh {

struct HashOptions {
  bool dihedral = false;                      // also compute the 8 dihedral PDQ variants
  uint64_t max_pixels = 100'000'000;          // refuse larger declared sizes (decompression bombs)
  uint64_t max_file_bytes = 256ull << 20;     // refuse larger files
};

struct FileHashes {
  std::string file;
  PdqHash pdq;
  int quality = 0;
  std::string md5;     // 32 lowercase hex
  std::string sha256;  // 64 lowercase hex
  int width = 0;
  int height = 0;
  // When HashOptions::dihedral: orig, rot90, rot180, rot270, flipx, flipy, flipp, flipm.
  std::vector<PdqHash> dihedral;
};

Result<FileHashes> HashFile(const std::string& path, const HashOptions& options);

// Expands directories (recursively, image files by extension: jpg, jpeg, png), keeping the order
// of the arguments; files named explicitly are kept whatever their extension.
Result<std::vector<std::string>> ExpandImagePaths(const std::vector<std::string>& args);

// Hashes `paths` on `threads` threads (0: one per core). Results are in input order; a file that
// fails has its Status in place. `progress(done, total)` is called from worker threads.
std::vector<Result<FileHashes>> HashFiles(const std::vector<std::string>& paths,
                                          const HashOptions& options, int threads,
                                          const std::function<void(size_t, size_t)>& progress);

}  // namespace hashmesh
