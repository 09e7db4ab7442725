// PDQ perceptual hashing of decoded 8-bit pixels, bit-exact with Meta's reference C++ hasher
// (see /work/shared/PDQ.md): squash, luma, Jarosz filter, 64x64 decimation, quality, DCT, median.
// A PdqHasher owns ~240 KiB of scratch space and is not thread-safe: use one per thread. The free
// functions are pure and thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/pdq_hash.h"
#include "common/status.h"

namespace hashmesh {

// Images with a side larger than this are squashed to exactly kPdqSquashSize x kPdqSquashSize
// (nearest neighbour, aspect ratio ignored) before hashing, as the reference tool does.
inline constexpr int kPdqSquashSize = 512;
// Images with a side smaller than this hash to all zeros with quality 0.
inline constexpr int kPdqMinDimension = 5;

inline bool PdqNeedsSquash(int width, int height) {
  return width > kPdqSquashSize || height > kPdqSquashSize;
}
// The source row (or column) that squashed row `i` samples from a side of `n` pixels. Decoders
// that produce only the sampled pixels use this so that they stay identical to PdqHasher.
inline int PdqSquashSource(int i, int n) {
  return static_cast<int>(static_cast<int64_t>(i) * n / kPdqSquashSize);
}

// A borrowed view of 8-bit pixels, rows top to bottom. channels: 1 grey, 2 grey+alpha, 3 RGB,
// 4 RGBA; alpha is ignored. stride is the distance in bytes between the starts of two rows.
struct PixelView {
  const uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  int channels = 0;
  ptrdiff_t stride = 0;
};

// Dihedral variants, in the order of the reference's --pdqdih output.
enum class PdqDihedral { kOrig, kRot90, kRot180, kRot270, kFlipX, kFlipY, kFlipPlus1, kFlipMinus1 };
inline constexpr int kPdqDihedralCount = 8;

struct PdqResult {
  PdqHash hash;
  int quality = 0;
  // Filled only when asked for: indexed by PdqDihedral; dihedral[0] == hash.
  std::vector<PdqHash> dihedral;
};

class PdqHasher {
 public:
  PdqHasher();
  ~PdqHasher();
  PdqHasher(const PdqHasher&) = delete;
  PdqHasher& operator=(const PdqHasher&) = delete;

  // Hashes `image` (squashing it first if a side exceeds kPdqSquashSize). With `dihedral`, also
  // returns the 8 dihedral variants computed from the same DCT. InvalidArgument if the view is
  // malformed (null data, bad channel count, stride too small, negative sizes).
  Result<PdqResult> Hash(const PixelView& image, bool dihedral = false);

 private:
  struct Scratch;
  void LumaRow(const PixelView& image, int y, int cols, float* out) const;
  void FilterAndDecimate(const PixelView& image, int rows, int cols);

  std::unique_ptr<Scratch> scratch_;
};

}  // namespace hashmesh
