// PDQ hashing: the reference algorithm with the reference's exact float operations and order,
// arranged so that inner loops run across independent lines (vectorisable, same results).
#include "common/pdq_hasher.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

// Fusing a*b+c into one FMA rounds once instead of twice and would change hash bits; the
// reference is built without contraction, so forbid it here whatever -march says.
#if defined(__clang__)
#pragma clang fp contract(off)
#define HM_NO_FP_CONTRACT
#elif defined(__GNUC__)
#define HM_NO_FP_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define HM_NO_FP_CONTRACT
#endif

namespace hashmesh {
namespace {

constexpr int kMaxSide = kPdqSquashSize;  // after squashing no side exceeds this
constexpr int kBlockLanes = 16;           // rows filtered together by the along-rows pass

// Four floats operated on at once (GCC/Clang vector extension; plain SSE2 on x86-64). Lane-wise
// IEEE arithmetic gives exactly the scalar results.
typedef float V4 __attribute__((vector_size(16)));
inline V4 Load4(const float* p) {
  V4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void Store4(float* p, V4 v) { std::memcpy(p, &v, sizeof v); }

inline void Transpose4(V4& a, V4& b, V4& c, V4& d) {
  const V4 t0 = __builtin_shufflevector(a, b, 0, 4, 1, 5);
  const V4 t1 = __builtin_shufflevector(a, b, 2, 6, 3, 7);
  const V4 t2 = __builtin_shufflevector(c, d, 0, 4, 1, 5);
  const V4 t3 = __builtin_shufflevector(c, d, 2, 6, 3, 7);
  a = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
  b = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
  c = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
  d = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
}

// Copies rows r0 .. r0 + kBlockLanes - 1 of `image` (rows x cols) into `block` (cols x
// kBlockLanes, row r0 + t in lane t). Rows past the end repeat the last row; those lanes are never
// read back.
void GatherRows(const float* image, int rows, int cols, int r0, float* block) {
  const float* src[kBlockLanes];
  for (int t = 0; t < kBlockLanes; ++t) {
    src[t] = image + static_cast<ptrdiff_t>(std::min(r0 + t, rows - 1)) * cols;
  }
  int c = 0;
  for (; c + 4 <= cols; c += 4) {
    for (int h = 0; h < kBlockLanes; h += 4) {
      V4 a = Load4(src[h] + c), b = Load4(src[h + 1] + c);
      V4 x = Load4(src[h + 2] + c), y = Load4(src[h + 3] + c);
      Transpose4(a, b, x, y);
      Store4(block + (c + 0) * kBlockLanes + h, a);
      Store4(block + (c + 1) * kBlockLanes + h, b);
      Store4(block + (c + 2) * kBlockLanes + h, x);
      Store4(block + (c + 3) * kBlockLanes + h, y);
    }
  }
  for (; c < cols; ++c) {
    for (int t = 0; t < kBlockLanes; ++t) block[c * kBlockLanes + t] = src[t][c];
  }
}

// The inverse of GatherRows, for the rows that exist.
void ScatterRows(const float* block, int rows, int cols, int r0, float* image) {
  float* dst[kBlockLanes];
  for (int t = 0; t < kBlockLanes; ++t) dst[t] = image + static_cast<ptrdiff_t>(r0 + t) * cols;
  int c = 0;
  if (r0 + kBlockLanes <= rows) {
    for (; c + 4 <= cols; c += 4) {
      for (int h = 0; h < kBlockLanes; h += 4) {
        V4 a = Load4(block + (c + 0) * kBlockLanes + h);
        V4 b = Load4(block + (c + 1) * kBlockLanes + h);
        V4 x = Load4(block + (c + 2) * kBlockLanes + h);
        V4 y = Load4(block + (c + 3) * kBlockLanes + h);
        Transpose4(a, b, x, y);
        Store4(dst[h] + c, a);
        Store4(dst[h + 1] + c, b);
        Store4(dst[h + 2] + c, x);
        Store4(dst[h + 3] + c, y);
      }
    }
  }
  const int n = std::min(kBlockLanes, rows - r0);
  for (; c < cols; ++c) {
    for (int t = 0; t < n; ++t) dst[t][c] = block[c * kBlockLanes + t];
  }
}

// The reference's running-mean box filter (PDQ.md step 6), run down the kBlockLanes independent
// lines of a block at once: `in` and `out` hold `length` rows of kBlockLanes floats. The running
// sum is updated exactly as the reference does (add the entering sample, then subtract the
// leaving one, then divide by the number of samples in the window), so float rounding agrees.
// The sums stay in registers: the loop-carried add is the critical path.
void BoxBlock(const float* in, float* out, int length, int window) {
  constexpr int kVecs = kBlockLanes / 4;
  const int half = (window + 2) / 2;
  const int phase1 = half - 1;
  const int phase2 = window - half + 1;
  const int phase3 = length - window;
  const int phase4 = half - 1;
  V4 sums[kVecs] = {};
  const float* add = in;
  const float* sub = in;
  float* dst = out;
  int count = 0;
  for (int i = 0; i < phase1; ++i, add += kBlockLanes) {
#pragma GCC unroll 4
    for (int v = 0; v < kVecs; ++v) sums[v] += Load4(add + 4 * v);
    ++count;
  }
  for (int i = 0; i < phase2; ++i, add += kBlockLanes, dst += kBlockLanes) {
    const float n = static_cast<float>(++count);
#pragma GCC unroll 4
    for (int v = 0; v < kVecs; ++v) {
      sums[v] += Load4(add + 4 * v);
      Store4(dst + 4 * v, sums[v] / n);
    }
  }
  const float n_full = static_cast<float>(count);
  for (int i = 0; i < phase3; ++i, add += kBlockLanes, sub += kBlockLanes, dst += kBlockLanes) {
#pragma GCC unroll 4
    for (int v = 0; v < kVecs; ++v) {
      sums[v] += Load4(add + 4 * v);
      sums[v] -= Load4(sub + 4 * v);
      Store4(dst + 4 * v, sums[v] / n_full);
    }
  }
  for (int i = 0; i < phase4; ++i, sub += kBlockLanes, dst += kBlockLanes) {
    const float n = static_cast<float>(--count);
#pragma GCC unroll 4
    for (int v = 0; v < kVecs; ++v) {
      sums[v] -= Load4(sub + 4 * v);
      Store4(dst + 4 * v, sums[v] / n);
    }
  }
}

struct DctMatrix {
  float d[16][64];   // D[i][j] = sqrt(2/64) cos(pi/128 (i + 1)(2j + 1)), as floats
  float dt[64][16];  // its transpose, so that B = T D^T also runs along contiguous rows
};

const DctMatrix& Dct() {
  static const DctMatrix* const matrix = [] {
    auto* m = new DctMatrix;
    // Computed in double and rounded once to float, as the reference does.
    const double scale = std::sqrt(2.0 / 64);
    for (int i = 0; i < 16; ++i) {
      for (int j = 0; j < 64; ++j) {
        const double v = scale * std::cos((std::numbers::pi / 2 / 64) * (i + 1) * (2 * j + 1));
        m->d[i][j] = static_cast<float>(v);
        m->dt[j][i] = m->d[i][j];
      }
    }
    return m;
  }();
  return *matrix;
}

// B = D A D^T, each output a float sum over k = 0..63 in order starting from 0, as the reference.
HM_NO_FP_CONTRACT void Dct64To16(const float (&a)[64][64], float (&t)[16][64], float (&b)[16][16]) {
  const DctMatrix& m = Dct();
  for (int i = 0; i < 16; ++i) {
    V4 acc[16] = {};
    for (int k = 0; k < 64; ++k) {
      const float d = m.d[i][k];
      for (int j = 0; j < 16; ++j) acc[j] += d * Load4(&a[k][4 * j]);
    }
    for (int j = 0; j < 16; ++j) Store4(&t[i][4 * j], acc[j]);
  }
  for (int i = 0; i < 16; ++i) {
    V4 acc[4] = {};
    for (int k = 0; k < 64; ++k) {
      const float x = t[i][k];
      for (int j = 0; j < 4; ++j) acc[j] += x * Load4(&m.dt[k][4 * j]);
    }
    for (int j = 0; j < 4; ++j) Store4(&b[i][4 * j], acc[j]);
  }
}

// PDQ.md step 8.
int Quality(const float (&a)[64][64]) {
  int sum = 0;
  for (int i = 0; i < 63; ++i) {
    for (int j = 0; j < 64; ++j) {
      sum += std::abs(static_cast<int>((a[i][j] - a[i + 1][j]) * 100 / 255));
    }
  }
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 63; ++j) {
      sum += std::abs(static_cast<int>((a[i][j] - a[i][j + 1]) * 100 / 255));
    }
  }
  return std::min(100, sum / 90);
}

// PDQ.md step 10: bit 16 i + j is set iff b[i][j] exceeds the lower median.
PdqHash Threshold(const float (&b)[16][16]) {
  float sorted[256];
  std::memcpy(sorted, b, sizeof sorted);
  std::nth_element(sorted, sorted + 127, sorted + 256);
  const float median = sorted[127];
  PdqHash hash;
  for (int k = 0; k < 256; ++k) {
    if (b[k >> 4][k & 15] > median) hash.SetBit(k);
  }
  return hash;
}

// PDQ.md step 12: each variant is the DCT of the transformed image, obtained from b by sign
// flips of the odd-frequency coefficients (row i holds frequency i + 1) and an optional
// transpose. The sign rule names the indices of b, before the transpose.
std::vector<PdqHash> Dihedral(const float (&b)[16][16]) {
  struct Variant {
    bool transpose;
    int negate;  // 0 none, 1 where i even, 2 where j even, 3 where i + j odd
  };
  static constexpr Variant kVariants[kPdqDihedralCount] = {
      {false, 0}, {true, 2}, {false, 3}, {true, 1}, {false, 1}, {false, 2}, {true, 0}, {true, 3},
  };
  std::vector<PdqHash> out;
  out.reserve(kPdqDihedralCount);
  for (const Variant& v : kVariants) {
    float x[16][16];
    for (int i = 0; i < 16; ++i) {
      for (int j = 0; j < 16; ++j) {
        const bool negate = (v.negate == 1 && i % 2 == 0) || (v.negate == 2 && j % 2 == 0) ||
                            (v.negate == 3 && (i + j) % 2 == 1);
        (v.transpose ? x[j][i] : x[i][j]) = negate ? -b[i][j] : b[i][j];
      }
    }
    out.push_back(Threshold(x));
  }
  return out;
}

struct LumaTables {
  float r[256], g[256], b[256];  // 0.299 v etc. as float products, as the reference computes them
};

const LumaTables& Luma() {
  static const LumaTables tables = [] {
    LumaTables t;
    for (int v = 0; v < 256; ++v) {
      t.r[v] = 0.299f * static_cast<float>(v);
      t.g[v] = 0.587f * static_cast<float>(v);
      t.b[v] = 0.114f * static_cast<float>(v);
    }
    return t;
  }();
  return tables;
}

Status CheckView(const PixelView& image) {
  if (image.data == nullptr) return InvalidArgument("pdq: no pixel data");
  if (image.width <= 0 || image.height <= 0) return InvalidArgument("pdq: empty image");
  if (image.channels < 1 || image.channels > 4) {
    return InvalidArgument("pdq: channels must be 1 to 4, got " + std::to_string(image.channels));
  }
  if (image.stride < static_cast<ptrdiff_t>(image.width) * image.channels) {
    return InvalidArgument("pdq: row stride is smaller than a row");
  }
  return Status::Ok();
}

// Rows kept by the streaming column filters: a block of kBlockLanes new rows plus up to 4 old
// ones (the window along columns is at most 512 / 128).
constexpr int kRing = 2 * kBlockLanes;

// The box filter of BoxBlock, run down `lanes` columns but fed one row at a time, so that the
// whole image never has to be in memory. Row t is read from ring + (t % kRing) * lanes, where
// the caller puts it before Push(). The operations on each sum are BoxBlock's, in its order.
class DownFilter {
 public:
  DownFilter(int length, int lanes, int window, const float* ring, float* sums)
      : length_(length),
        lanes_(lanes),
        window_(window),
        half_((window + 2) / 2),
        ring_(ring),
        sums_(sums) {
    std::fill(sums_, sums_ + lanes_, 0.0f);
  }

  // Adds the next row. Returns the index of the output row this completes, written to `out`, or
  // -1 while the window is still filling.
  int Push(float* out) {
    const int t = pushed_++;
    const float* add = Row(t);
    const int vec_end = lanes_ & ~3;
    if (t >= window_) {
      const float* sub = Row(t - window_);
      for (int j = 0; j < vec_end; j += 4) {
        Store4(sums_ + j, (Load4(sums_ + j) + Load4(add + j)) - Load4(sub + j));
      }
      for (int j = vec_end; j < lanes_; ++j) {
        sums_[j] += add[j];
        sums_[j] -= sub[j];
      }
    } else {
      for (int j = 0; j < vec_end; j += 4) Store4(sums_ + j, Load4(sums_ + j) + Load4(add + j));
      for (int j = vec_end; j < lanes_; ++j) sums_[j] += add[j];
    }
    if (t < half_ - 1) return -1;
    Divide(std::min(t + 1, window_), out);
    return t - (half_ - 1);
  }

  // After the last Push: the remaining output rows, one per call, then -1.
  int Drain(float* out) {
    const int k = drained_++;
    if (k >= half_ - 1) return -1;
    const float* sub = Row(length_ - window_ + k);
    const int vec_end = lanes_ & ~3;
    for (int j = 0; j < vec_end; j += 4) Store4(sums_ + j, Load4(sums_ + j) - Load4(sub + j));
    for (int j = vec_end; j < lanes_; ++j) sums_[j] -= sub[j];
    Divide(window_ - 1 - k, out);
    return length_ - half_ + 1 + k;
  }

 private:
  const float* Row(int t) const { return ring_ + static_cast<ptrdiff_t>(t % kRing) * lanes_; }

  void Divide(int count, float* out) const {
    const float n = static_cast<float>(count);
    const int vec_end = lanes_ & ~3;
    for (int j = 0; j < vec_end; j += 4) Store4(out + j, Load4(sums_ + j) / n);
    for (int j = vec_end; j < lanes_; ++j) out[j] = sums_[j] / n;
  }

  const int length_;
  const int lanes_;
  const int window_;
  const int half_;
  const float* const ring_;
  float* const sums_;
  int pushed_ = 0;
  int drained_ = 0;
};

}  // namespace

struct PdqHasher::Scratch {
  int col_offsets[kMaxSide];                // byte offset of each sampled source column
  float luma[kBlockLanes * kMaxSide];       // a block of luma rows
  float block_in[kMaxSide * kBlockLanes];   // the same, transposed for BoxBlock
  float block_out[kMaxSide * kBlockLanes];  // filtered along rows, transposed
  float ring1[kRing * kMaxSide];            // pass 1 along rows: the rows DownFilter reads
  float sums1[kMaxSide];                    // pass 1 along columns: running sums
  float pass1[kBlockLanes * kMaxSide];      // pass 1 done: a block of rows for pass 2
  float ring2[kRing][64];                   // pass 2 along rows, decimation columns only
  float sums2[64];                          // pass 2 along columns: running sums
  float out2[64];                           // one row of pass 2 done
  float a[64][64];                          // decimated
  float t[16][64];                          // D A
  float b[16][16];                          // D A D^T
};

// Not value-initialised: every buffer is written before it is read.
PdqHasher::PdqHasher() : scratch_(new Scratch) {}
PdqHasher::~PdqHasher() = default;

// Steps 2 and 3 for one row: squash (if needed) and luma.
void PdqHasher::LumaRow(const PixelView& image, int y, int cols, float* out) const {
  const int* col_offsets = scratch_->col_offsets;
  const int src_y =
      PdqNeedsSquash(image.width, image.height) ? PdqSquashSource(y, image.height) : y;
  const uint8_t* row = image.data + src_y * image.stride;
  const LumaTables& t = Luma();
  if (cols == image.width) {  // not squashed: consecutive pixels
    const int c = image.channels;
    if (c >= 3) {
      for (int x = 0; x < cols; ++x, row += c) out[x] = t.r[row[0]] + t.g[row[1]] + t.b[row[2]];
    } else {
      for (int x = 0; x < cols; ++x, row += c) out[x] = static_cast<float>(row[0]);
    }
  } else if (image.channels >= 3) {
    for (int x = 0; x < cols; ++x) {
      const uint8_t* p = row + col_offsets[x];
      out[x] = t.r[p[0]] + t.g[p[1]] + t.b[p[2]];
    }
  } else {
    for (int x = 0; x < cols; ++x) out[x] = static_cast<float>(row[col_offsets[x]]);
  }
}

// Steps 6 and 7 as one stream of blocks of kBlockLanes rows: luma, pass 1 along rows (transposed
// so the rows are BoxBlock's lanes), pass 1 along columns (DownFilter), pass 2 along rows, pass 2
// along columns on the 64 decimation columns only, decimation. Every value is computed by the
// same operations as in the whole-image passes of the reference; only the order in which
// independent values are computed differs, and the working set stays in the caches.
void PdqHasher::FilterAndDecimate(const PixelView& image, int rows, int cols) {
  Scratch& s = *scratch_;
  const int window_along_rows = (cols + 127) / 128;
  const int window_along_cols = (rows + 127) / 128;
  int sample_cols[64];
  int sample_rows[64];
  for (int j = 0; j < 64; ++j) {
    sample_cols[j] = static_cast<int>(((j + 0.5) * cols) / 64);
    sample_rows[j] = static_cast<int>(((j + 0.5) * rows) / 64);
  }
  DownFilter columns1(rows, cols, window_along_cols, s.ring1, s.sums1);
  DownFilter columns2(rows, 64, window_along_cols, &s.ring2[0][0], s.sums2);
  int next_a_row = 0;

  // Pass 2 along columns, then decimation, for one more row of pass 2 along rows.
  auto finish_row = [&](int index) {
    for (; next_a_row < 64 && sample_rows[next_a_row] == index; ++next_a_row) {
      std::memcpy(s.a[next_a_row], s.out2, sizeof s.a[next_a_row]);
    }
  };
  // Pass 2 along rows for the rows of s.pass1 (the first `n` of them, rows r0...).
  auto pass2_rows = [&](int r0, int n) {
    GatherRows(s.pass1, n, cols, 0, s.block_in);
    BoxBlock(s.block_in, s.block_out, cols, window_along_rows);
    for (int t = 0; t < n; ++t) {
      float* dst = s.ring2[(r0 + t) % kRing];
      for (int j = 0; j < 64; ++j) dst[j] = s.block_out[sample_cols[j] * kBlockLanes + t];
      const int index = columns2.Push(s.out2);
      if (index >= 0) finish_row(index);
    }
  };
  // Pass 1 completes rows in order, into s.pass1; every full block goes on to pass 2.
  int pass1_done = 0;
  auto take_pass1_row = [&] {
    if (++pass1_done % kBlockLanes == 0) pass2_rows(pass1_done - kBlockLanes, kBlockLanes);
  };

  for (int r0 = 0; r0 < rows; r0 += kBlockLanes) {
    const int n = std::min(kBlockLanes, rows - r0);
    for (int t = 0; t < n; ++t) LumaRow(image, r0 + t, cols, s.luma + t * cols);
    GatherRows(s.luma, n, cols, 0, s.block_in);
    BoxBlock(s.block_in, s.block_out, cols, window_along_rows);
    // r0 is a multiple of kBlockLanes, so the block's rows are consecutive in the ring.
    ScatterRows(s.block_out, n, cols, 0, s.ring1 + (r0 % kRing) * cols);
    for (int t = 0; t < n; ++t) {
      if (columns1.Push(s.pass1 + (pass1_done % kBlockLanes) * cols) >= 0) take_pass1_row();
    }
  }
  while (columns1.Drain(s.pass1 + (pass1_done % kBlockLanes) * cols) >= 0) take_pass1_row();
  if (pass1_done % kBlockLanes != 0) {
    const int n = pass1_done % kBlockLanes;
    pass2_rows(pass1_done - n, n);
  }
  for (int index; (index = columns2.Drain(s.out2)) >= 0;) finish_row(index);
}

Result<PdqResult> PdqHasher::Hash(const PixelView& image, bool dihedral) {
  HM_RETURN_IF_ERROR(CheckView(image));
  PdqResult result;
  const bool squash = PdqNeedsSquash(image.width, image.height);
  const int rows = squash ? kPdqSquashSize : image.height;
  const int cols = squash ? kPdqSquashSize : image.width;
  if (rows < kPdqMinDimension || cols < kPdqMinDimension) {
    if (dihedral) result.dihedral.assign(kPdqDihedralCount, PdqHash{});
    return result;
  }
  Scratch& s = *scratch_;
  for (int x = 0; x < cols; ++x) {
    s.col_offsets[x] = (squash ? PdqSquashSource(x, image.width) : x) * image.channels;
  }
  if (rows == 64 && cols == 64) {
    for (int y = 0; y < 64; ++y) LumaRow(image, y, cols, s.a[y]);
  } else {
    FilterAndDecimate(image, rows, cols);
  }

  result.quality = Quality(s.a);
  Dct64To16(s.a, s.t, s.b);
  result.hash = Threshold(s.b);
  if (dihedral) result.dihedral = Dihedral(s.b);
  return result;
}

}  // namespace hashmesh
