// Tests of PDQ hashing against the reference hashes in testdata/pdq, of the JPEG/PNG decoders
// (formats, refusals, the sampling fast path) and of the file-hashing front end.
#include "common/pdq_hasher.h"

#include <gtest/gtest.h>
// The tests encode JPEGs with libjpeg to make exact test cases.
#include <jpeglib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/file_hasher.h"
#include "common/image_decode.h"

namespace hashmesh {
namespace {

namespace fs = std::filesystem;

std::string PdqData(const std::string& relative) {
  return std::string(HASHMESH_TESTDATA) + "/pdq/" + relative;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::span<const uint8_t> Span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // the CSVs have CRLF endings
    if (line.empty()) continue;
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, ',')) fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

struct Reference {
  std::string path;  // relative to images/
  std::string hex;
  int quality;
  std::string size;  // "WxH"
};

std::vector<Reference> MeasuredReferences() {
  std::vector<Reference> out;
  for (const auto& f : ReadCsv(PdqData("hashes/pdq-cpp-reference-measured.csv"))) {
    out.push_back({f.at(0), f.at(1), std::stoi(f.at(2)), f.at(3)});
  }
  return out;
}

// Dihedral rows of the reference CSV: orig, rot90, rot180, rot270, flipx, flipy, flipp, flipm.
std::vector<PdqHash> ReferenceDihedral() {
  std::vector<PdqHash> out;
  for (const auto& f :
       ReadCsv(PdqData("hashes/pdq-cpp-reference-dihedral-dih-bridge-1-original.csv"))) {
    out.push_back(PdqHash::FromHex(f.at(1)).value());
  }
  return out;
}

// A scratch directory, removed at the end of each test.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("pdq_hasher_test_" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& bytes) const {
    const std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// ---- a minimal PNG writer (stored deflate blocks), to craft exact test images
// --------------------

uint32_t Crc32(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string PngChunk(const std::string& type, const std::string& data) {
  return Be32(static_cast<uint32_t>(data.size())) + type + data + Be32(Crc32(type + data));
}

std::string ZlibStored(const std::string& raw) {
  std::string out = "\x78\x01";
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, raw.size() - pos);
    const bool last = pos + n == raw.size();
    out += static_cast<char>(last ? 1 : 0);
    out += static_cast<char>(n & 0xFF);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(~n & 0xFF);
    out += static_cast<char>((~n >> 8) & 0xFF);
    out += raw.substr(pos, n);
    pos += n;
  } while (pos < raw.size());
  uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  return out + Be32((b << 16) | a);
}

// `scanlines`: the filtered image data (a filter byte of 0 before each row, per pass if
// interlaced). `extra`: chunks to put before IDAT (PLTE, tRNS).
std::string MakePng(uint32_t width, uint32_t height, int bit_depth, int color_type,
                    const std::string& scanlines, const std::string& extra = "",
                    bool interlaced = false) {
  std::string ihdr = Be32(width) + Be32(height);
  ihdr += static_cast<char>(bit_depth);
  ihdr += static_cast<char>(color_type);
  ihdr += '\0';  // compression
  ihdr += '\0';  // filter
  ihdr += static_cast<char>(interlaced ? 1 : 0);
  return std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr) + extra +
         PngChunk("IDAT", ZlibStored(scanlines)) + PngChunk("IEND", "");
}

// Rows of `bytes_per_row` bytes each, with filter bytes.
std::string Scanlines(const std::string& pixels, size_t bytes_per_row) {
  std::string out;
  for (size_t pos = 0; pos < pixels.size(); pos += bytes_per_row) {
    out += '\0';
    out += pixels.substr(pos, bytes_per_row);
  }
  return out;
}

// Adam7 passes of an 8-bit image with `bpp` bytes per pixel.
std::string Adam7Scanlines(const std::string& pixels, int width, int height, int bpp) {
  static constexpr int kPass[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                      {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
  std::string out;
  for (const auto& p : kPass) {
    if (p[0] >= width) continue;  // an empty pass has no rows at all
    for (int y = p[1]; y < height; y += p[3]) {
      out += '\0';
      for (int x = p[0]; x < width; x += p[2]) {
        out += pixels.substr((static_cast<size_t>(y) * width + x) * bpp, bpp);
      }
    }
  }
  return out;
}

std::string Bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s += static_cast<char>(v);
  return s;
}

DecodedImage MustDecode(const std::string& bytes, bool squash = false) {
  DecodeOptions options;
  options.squash_for_pdq = squash;
  auto decoded = DecodeImage(Span(bytes), options);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  return decoded.ok() ? std::move(decoded).value() : DecodedImage{};
}

std::string PixelsOf(const DecodedImage& image) {
  return {image.pixels.begin(), image.pixels.end()};
}

std::vector<uint8_t> NoiseImage(int width, int height, int channels, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> px(static_cast<size_t>(width) * height * channels);
  // Smooth-ish content so that the hash is not dominated by noise.
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int k = 0; k < channels; ++k) {
        px[(static_cast<size_t>(y) * width + x) * channels + k] =
            static_cast<uint8_t>((x * (k + 1) + y * 3 + (rng() % 16)) & 0xFF);
      }
    }
  }
  return px;
}

// ---- the reference hashes ----------------------------------------------------------------------

// Every image in the reference CSV, through the whole file path (decoders, squash, PDQ). This
// includes the CMYK JPEG, the 1-bit, grey, grey+alpha and palette PNGs and the RGBA PNGs.
TEST(PdqReference, EveryMeasuredImageMatchesBitForBit) {
  const auto refs = MeasuredReferences();
  ASSERT_EQ(refs.size(), 39u);
  for (const Reference& ref : refs) {
    SCOPED_TRACE(ref.path);
    auto got = HashFile(PdqData("images/" + ref.path), HashOptions{});
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    const PdqHash want = PdqHash::FromHex(ref.hex).value();
    EXPECT_EQ(got->pdq.ToHex(), ref.hex) << "distance " << HammingDistance(got->pdq, want);
    EXPECT_EQ(got->quality, ref.quality);
    EXPECT_EQ(std::to_string(got->width) + "x" + std::to_string(got->height), ref.size);
  }
}

TEST(PdqReference, DihedralVariantsOfTheOriginal) {
  HashOptions options;
  options.dihedral = true;
  auto got = HashFile(PdqData("images/dih/bridge-1-original.jpg"), options);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  const auto want = ReferenceDihedral();
  ASSERT_EQ(want.size(), 8u);
  ASSERT_EQ(got->dihedral.size(), 8u);
  static const char* kNames[] = {"orig",  "rot90", "rot180", "rot270",
                                 "flipx", "flipy", "flipp",  "flipm"};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(got->dihedral[i].ToHex(), want[i].ToHex()) << kNames[i];
  }
  EXPECT_EQ(got->dihedral[0], got->pdq);
}

// Hashing a transformed file directly gives almost the variant computed from the DCT of the
// original: they differ by JPEG re-encoding and the squash's sampling positions (the reference
// measures 0 to 18 bits here too, since our hashes of these files are the reference's).
TEST(PdqReference, DihedralFilesAreNearTheirVariants) {
  const auto variants = ReferenceDihedral();
  const std::pair<const char*, int> kFiles[] = {
      {"bridge-1-original.jpg", 0},    {"bridge-2-rotate-90.jpg", 1},
      {"bridge-3-rotate-180.jpg", 2},  {"bridge-4-rotate-270.jpg", 3},
      {"bridge-5-flipx.jpg", 4},       {"bridge-6-flipy.jpg", 5},
      {"bridge-7-flip-plus-1.jpg", 6}, {"bridge-8-flip-minus-1.jpg", 7},
  };
  for (const auto& [file, variant] : kFiles) {
    auto got = HashFile(PdqData(std::string("images/dih/") + file), HashOptions{});
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_LE(HammingDistance(got->pdq, variants[variant]), 20) << file;
  }
}

TEST(PdqReference, FileDigests) {
  auto got = HashFile(PdqData("images/dih/bridge-1-original.jpg"), HashOptions{});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->md5, "d35c785545392755e7e4164457657269");
  EXPECT_EQ(got->sha256, "b5b0799616df52d475a3968dc7e54f1d0724c912244ffa6175bc786375dd7298");
  EXPECT_TRUE(got->dihedral.empty());
}

// ---- the sampling fast path equals a full decode ----------------------------------------------

// DecodeImage with squash_for_pdq skips rows (jpeg_skip_scanlines) and converts only sampled
// pixels; it must give exactly the pixels PdqHasher samples from a full decode.
void ExpectSquashedEqualsSampledFull(const std::string& bytes) {
  const DecodedImage full = MustDecode(bytes, /*squash=*/false);
  const DecodedImage squashed = MustDecode(bytes, /*squash=*/true);
  ASSERT_EQ(full.width, full.source_width);
  ASSERT_EQ(squashed.source_width, full.width);
  ASSERT_EQ(squashed.source_height, full.height);
  ASSERT_EQ(squashed.channels, full.channels);
  const bool squash = PdqNeedsSquash(full.width, full.height);
  ASSERT_EQ(squashed.width, squash ? kPdqSquashSize : full.width);
  ASSERT_EQ(squashed.height, squash ? kPdqSquashSize : full.height);
  const int c = full.channels;
  bool same = true;
  for (int y = 0; y < squashed.height && same; ++y) {
    const int sy = squash ? PdqSquashSource(y, full.height) : y;
    for (int x = 0; x < squashed.width && same; ++x) {
      const int sx = squash ? PdqSquashSource(x, full.width) : x;
      for (int k = 0; k < c; ++k) {
        same = same && squashed.pixels[(static_cast<size_t>(y) * squashed.width + x) * c + k] ==
                           full.pixels[(static_cast<size_t>(sy) * full.width + sx) * c + k];
      }
    }
  }
  EXPECT_TRUE(same);
  PdqHasher hasher;
  EXPECT_EQ(hasher.Hash(full.view())->hash, hasher.Hash(squashed.view())->hash);
}

TEST(ImageDecode, SquashedDecodeEqualsSampledFullDecode) {
  for (const Reference& ref : MeasuredReferences()) {
    SCOPED_TRACE(ref.path);
    ExpectSquashedEqualsSampledFull(ReadBytes(PdqData("images/" + ref.path)));
  }
}

// ---- JPEG cases made with libjpeg ---------------------------------------------------------------

struct JpegSpec {
  int width;
  int height;
  int components;                          // 1 grey, 3 YCbCr from RGB
  bool subsample = false;                  // 4:2:0 rather than 4:4:4
  std::vector<jpeg_scan_info> scans = {};  // a progressive scan script, if any
};

std::string EncodeJpeg(const JpegSpec& spec, const std::vector<uint8_t>& pixels) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &out, &size);
  c.image_width = spec.width;
  c.image_height = spec.height;
  c.input_components = spec.components;
  c.in_color_space = spec.components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  if (spec.components == 3 && !spec.subsample) {
    for (int i = 0; i < 3; ++i) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  }
  if (!spec.scans.empty()) {
    c.scan_info = spec.scans.data();
    c.num_scans = static_cast<int>(spec.scans.size());
  }
  jpeg_start_compress(&c, TRUE);
  const size_t stride = static_cast<size_t>(spec.width) * spec.components;
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels.data() + c.next_scanline * stride);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::string bytes(reinterpret_cast<char*>(out), size);
  free(out);
  return bytes;
}

// An RGB image whose pixels are all grey, except for an 8x8 block at (x, y) if asked.
std::vector<uint8_t> GreyRgb(int width, int height, int colour_x = -1, int colour_y = -1) {
  std::vector<uint8_t> px(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &px[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = p[1] = p[2] = static_cast<uint8_t>((x / 3 + y / 5) & 0xFF);
      if (colour_x >= 0 && x / 8 == colour_x / 8 && y / 8 == colour_y / 8) {
        p[0] = 250;
        p[1] = 10;
        p[2] = 90;
      }
    }
  }
  return px;
}

// libjpeg gives exactly R == G == B for a grey image coded as 4:4:4 YCbCr (its chroma is exactly
// 128); the reference then hashes it as grey, so must we, with or without row skipping.
TEST(ImageDecode, GreyColourJpegDecodesAsGrey) {
  const JpegSpec spec{600, 1300, 3};
  const std::string jpeg = EncodeJpeg(spec, GreyRgb(spec.width, spec.height));
  EXPECT_EQ(MustDecode(jpeg, /*squash=*/false).channels, 1);
  EXPECT_EQ(MustDecode(jpeg, /*squash=*/true).channels, 1);
  ExpectSquashedEqualsSampledFull(jpeg);
}

// With 8192 rows the squash samples every 16th row, so rows 8..15 are never sampled. Colour only
// there still makes the image a colour image: rows may be skipped only once colour was seen.
TEST(ImageDecode, ColourInRowsTheSquashSkipsIsStillSeen) {
  const JpegSpec spec{520, 8192, 3};
  const std::string jpeg = EncodeJpeg(spec, GreyRgb(spec.width, spec.height, 100, 8));
  const DecodedImage full = MustDecode(jpeg, /*squash=*/false);
  const DecodedImage squashed = MustDecode(jpeg, /*squash=*/true);
  EXPECT_EQ(full.channels, 3);
  EXPECT_EQ(squashed.channels, 3);
  // The sampled pixels themselves are all grey.
  for (size_t i = 0; i < squashed.pixels.size(); i += 3) {
    ASSERT_EQ(squashed.pixels[i], squashed.pixels[i + 1]);
    ASSERT_EQ(squashed.pixels[i + 1], squashed.pixels[i + 2]);
  }
}

// Shapes the reference images lack: 4:2:0 chroma, grey JPEG, interlaced PNG, and one side short
// enough that the squash repeats its rows or columns.
TEST(ImageDecode, MoreShapesSquashExactly) {
  for (const JpegSpec& spec :
       {JpegSpec{1500, 900, 3, /*subsample=*/true}, JpegSpec{1500, 300, 3, /*subsample=*/true},
        JpegSpec{300, 1500, 3}, JpegSpec{700, 1900, 1}}) {
    SCOPED_TRACE(std::to_string(spec.width) + "x" + std::to_string(spec.height));
    const std::string jpeg =
        EncodeJpeg(spec, NoiseImage(spec.width, spec.height, spec.components, 7));
    ExpectSquashedEqualsSampledFull(jpeg);
    EXPECT_EQ(MustDecode(jpeg).channels, spec.components);
  }
  // PNGs, plain and interlaced, through the same sampler.
  for (auto [w, h] : {std::pair{1000, 40}, {600, 700}}) {
    const auto px = NoiseImage(w, h, 3, 9);
    const std::string pixels(px.begin(), px.end());
    ExpectSquashedEqualsSampledFull(MakePng(w, h, 8, 2, Scanlines(pixels, w * 3)));
    ExpectSquashedEqualsSampledFull(
        MakePng(w, h, 8, 2, Adam7Scanlines(pixels, w, h, 3), "", /*interlaced=*/true));
  }
}

// A valid progressive script of 631 scans (each AC coefficient alone, refined bit by bit).
TEST(ImageDecode, RefusesJpegsWithTooManyScans) {
  JpegSpec spec{16, 16, 1};
  spec.scans.push_back({1, {0}, 0, 0, 0, 0});
  for (int k = 1; k < 64; ++k) {
    spec.scans.push_back({1, {0}, k, k, 0, 9});
    for (int al = 8; al >= 0; --al) spec.scans.push_back({1, {0}, k, k, al + 1, al});
  }
  const std::string jpeg = EncodeJpeg(spec, NoiseImage(16, 16, 1, 8));
  auto r = DecodeImage(Span(jpeg), DecodeOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("scans"), std::string::npos) << r.status().ToString();
  // The same image with the usual dozen scans decodes.
  spec.scans.resize(1);
  for (int k = 1; k < 64; ++k) spec.scans.push_back({1, {0}, k, k, 0, 0});
  spec.scans.resize(10);
  spec.scans.push_back({1, {0}, 10, 63, 0, 0});
  EXPECT_TRUE(DecodeImage(Span(EncodeJpeg(spec, NoiseImage(16, 16, 1, 8))), DecodeOptions{}).ok());
}

// ---- PdqHasher on pixel buffers ----------------------------------------------------------------

// A plain transcription of PDQ.md, one line at a time, with no attention to speed: the oracle
// that PdqHasher's restructured loops must agree with bit for bit. Contraction into FMA is off
// here for the same reason as in PdqHasher.
#if defined(__clang__)
#define ORACLE_NO_FP_CONTRACT
#pragma clang fp contract(off)
#else
#define ORACLE_NO_FP_CONTRACT __attribute__((optimize("fp-contract=off")))
#endif

// The reference's running-mean box filter over one line of `n` samples `stride` apart.
void OracleBox1D(const float* in, float* out, int n, int stride, int window) {
  const int half = (window + 2) / 2;
  int li = 0, ri = 0, oi = 0, count = 0;
  float sum = 0.0f;
  for (int i = 0; i < half - 1; ++i, ri += stride) {
    sum += in[ri];
    ++count;
  }
  for (int i = 0; i < window - half + 1; ++i, ri += stride, oi += stride) {
    sum += in[ri];
    ++count;
    out[oi] = sum / count;
  }
  for (int i = 0; i < n - window; ++i, li += stride, ri += stride, oi += stride) {
    sum += in[ri];
    sum -= in[li];
    out[oi] = sum / count;
  }
  for (int i = 0; i < half - 1; ++i, li += stride, oi += stride) {
    sum -= in[li];
    --count;
    out[oi] = sum / count;
  }
}

PdqHash OracleThreshold(const std::vector<float>& b) {
  std::vector<float> sorted = b;
  std::nth_element(sorted.begin(), sorted.begin() + 127, sorted.end());
  PdqHash h;
  for (int k = 0; k < 256; ++k) {
    if (b[k] > sorted[127]) h.SetBit(k);
  }
  return h;
}

ORACLE_NO_FP_CONTRACT PdqResult OraclePdq(const PixelView& v) {
  const bool squash = v.width > 512 || v.height > 512;
  const int rows = squash ? 512 : v.height, cols = squash ? 512 : v.width;
  std::vector<float> buf(static_cast<size_t>(rows) * cols), tmp(buf.size());
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < cols; ++x) {
      const int sy = squash ? static_cast<int>(int64_t{y} * v.height / 512) : y;
      const int sx = squash ? static_cast<int>(int64_t{x} * v.width / 512) : x;
      const uint8_t* p = v.data + sy * v.stride + sx * v.channels;
      buf[y * cols + x] = v.channels >= 3 ? 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2] : p[0];
    }
  }
  PdqResult r;
  r.dihedral.assign(8, PdqHash{});
  if (rows < 5 || cols < 5) return r;
  float a[64][64];
  if (rows == 64 && cols == 64) {
    std::copy(buf.begin(), buf.end(), &a[0][0]);
  } else {
    for (int pass = 0; pass < 2; ++pass) {
      for (int y = 0; y < rows; ++y) {
        OracleBox1D(&buf[y * cols], &tmp[y * cols], cols, 1, (cols + 127) / 128);
      }
      for (int x = 0; x < cols; ++x) {
        OracleBox1D(&tmp[x], &buf[x], rows, cols, (rows + 127) / 128);
      }
    }
    for (int i = 0; i < 64; ++i) {
      for (int j = 0; j < 64; ++j) {
        a[i][j] = buf[static_cast<int>((i + 0.5) * rows / 64) * cols +
                      static_cast<int>((j + 0.5) * cols / 64)];
      }
    }
  }
  int gradient = 0;
  for (int i = 0; i < 63; ++i) {
    for (int j = 0; j < 64; ++j)
      gradient += std::abs(static_cast<int>((a[i][j] - a[i + 1][j]) * 100 / 255));
  }
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 63; ++j)
      gradient += std::abs(static_cast<int>((a[i][j] - a[i][j + 1]) * 100 / 255));
  }
  r.quality = std::min(100, gradient / 90);
  float d[16][64], t[16][64];
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 64; ++j) {
      d[i][j] = static_cast<float>(std::sqrt(2.0 / 64) *
                                   std::cos(std::numbers::pi / 2 / 64 * (i + 1) * (2 * j + 1)));
    }
  }
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 64; ++j) {
      float sum = 0.0f;
      for (int k = 0; k < 64; ++k) sum += d[i][k] * a[k][j];
      t[i][j] = sum;
    }
  }
  std::vector<float> b(256);
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      float sum = 0.0f;
      for (int k = 0; k < 64; ++k) sum += t[i][k] * d[j][k];
      b[i * 16 + j] = sum;
    }
  }
  r.hash = OracleThreshold(b);
  // Dihedral variants from PDQ.md's table: sign flips by index of b, then an optional transpose.
  const std::pair<bool, std::function<bool(int, int)>> kVariants[8] = {
      {false, [](int, int) { return false; }},
      {true, [](int, int j) { return j % 2 == 0; }},
      {false, [](int i, int j) { return (i + j) % 2 == 1; }},
      {true, [](int i, int) { return i % 2 == 0; }},
      {false, [](int i, int) { return i % 2 == 0; }},
      {false, [](int, int j) { return j % 2 == 0; }},
      {true, [](int, int) { return false; }},
      {true, [](int i, int j) { return (i + j) % 2 == 1; }}};
  for (int v = 0; v < 8; ++v) {
    std::vector<float> x(256);
    for (int i = 0; i < 16; ++i) {
      for (int j = 0; j < 16; ++j) {
        const float value = kVariants[v].second(i, j) ? -b[i * 16 + j] : b[i * 16 + j];
        x[kVariants[v].first ? j * 16 + i : i * 16 + j] = value;
      }
    }
    r.dihedral[v] = OracleThreshold(x);
  }
  return r;
}

// Many sizes (squashed or not, tiny, odd, 64x64, windows 1 to 4, tall and wide), grey and RGB,
// smooth and noisy content: PdqHasher equals the oracle exactly, hash, quality and variants.
TEST(PdqHasher, EqualsAPlainTranscriptionOfTheAlgorithm) {
  PdqHasher hasher;
  const std::pair<int, int> kSizes[] = {{5, 5},     {7, 300},   {64, 64},   {63, 65},
                                        {128, 129}, {200, 37},  {257, 384}, {385, 511},
                                        {512, 512}, {513, 100}, {999, 700}, {1600, 1004}};
  uint32_t seed = 100;
  for (auto [w, h] : kSizes) {
    for (int channels : {1, 3, 4}) {
      SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h) + "x" + std::to_string(channels));
      const auto px = NoiseImage(w, h, channels, ++seed);
      const PixelView view{px.data(), w, h, channels, static_cast<ptrdiff_t>(w) * channels};
      auto got = hasher.Hash(view, /*dihedral=*/true);
      ASSERT_TRUE(got.ok());
      const PdqResult want = OraclePdq(view);
      EXPECT_EQ(got->hash.ToHex(), want.hash.ToHex());
      EXPECT_EQ(got->quality, want.quality);
      EXPECT_EQ(got->dihedral, want.dihedral);
    }
  }
}

TEST(PdqHasher, ImagesSmallerThanFivePixelsHashToZero) {
  PdqHasher hasher;
  for (auto [w, h] : {std::pair{4, 4}, {4, 100}, {100, 4}, {1, 1}}) {
    const auto px = NoiseImage(w, h, 3, 1);
    auto r = hasher.Hash({px.data(), w, h, 3, w * 3}, /*dihedral=*/true);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->hash, PdqHash{}) << w << "x" << h;
    EXPECT_EQ(r->quality, 0);
    ASSERT_EQ(r->dihedral.size(), 8u);
    for (const PdqHash& d : r->dihedral) EXPECT_EQ(d, PdqHash{});
  }
  // The same through a file.
  TempDir dir;
  const std::string tiny =
      dir.Write("tiny.png", MakePng(4, 4, 8, 0, Scanlines(std::string(16, 'x'), 4)));
  auto file = HashFile(tiny, HashOptions{});
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->pdq, PdqHash{});
  EXPECT_EQ(file->quality, 0);
  EXPECT_EQ(file->width, 4);
  // The squash comes first: a 600x4 image becomes 512x512 and has a hash.
  const auto px = NoiseImage(600, 4, 1, 2);
  auto r = hasher.Hash({px.data(), 600, 4, 1, 600});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->hash, PdqHash{});
}

TEST(PdqHasher, StrideAndAlphaAreHonoured) {
  PdqHasher hasher;
  const int w = 130, h = 97;
  const auto rgb = NoiseImage(w, h, 3, 3);
  // The same pixels with an alpha channel and padding at the end of each row.
  const int stride = w * 4 + 12;
  std::vector<uint8_t> rgba(static_cast<size_t>(stride) * h, 0xEE);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int k = 0; k < 3; ++k) rgba[y * stride + x * 4 + k] = rgb[(y * w + x) * 3 + k];
      rgba[y * stride + x * 4 + 3] = static_cast<uint8_t>(x * y);
    }
  }
  auto a = hasher.Hash({rgb.data(), w, h, 3, w * 3});
  auto b = hasher.Hash({rgba.data(), w, h, 4, stride});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->hash, b->hash);
  EXPECT_EQ(a->quality, b->quality);
}

TEST(PdqHasher, SixtyFourSquareSkipsTheFilterAndStillHashes) {
  PdqHasher hasher;
  const auto px = NoiseImage(64, 64, 1, 4);
  auto r = hasher.Hash({px.data(), 64, 64, 1, 64}, /*dihedral=*/true);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->hash, PdqHash{});
  EXPECT_EQ(r->dihedral[0], r->hash);
}

TEST(PdqHasher, RefusesMalformedViews) {
  PdqHasher hasher;
  const std::vector<uint8_t> px(300, 1);
  EXPECT_EQ(hasher.Hash({nullptr, 10, 10, 3, 30}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(hasher.Hash({px.data(), 10, 10, 5, 50}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(hasher.Hash({px.data(), 10, 10, 3, 29}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(hasher.Hash({px.data(), 0, 10, 3, 30}).status().code(), StatusCode::kInvalidArgument);
}

// Smooth content with a well-defined hash.
std::vector<uint8_t> SmoothImage(int n) {
  std::vector<uint8_t> px(static_cast<size_t>(n) * n);
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      const double v = 128 + 60 * std::sin(x / 23.0) * std::cos(y / 37.0) +
                       40 * std::sin((x + 2 * y) / 51.0) + 20 * std::cos((3 * x - y) / 17.0);
      px[static_cast<size_t>(y) * n + x] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
    }
  }
  return px;
}

// Hashing a rotated or flipped image gives, up to float rounding, the variant computed from the
// original's DCT. (With an odd filter window, here 3 for 300 pixels, the filter is symmetric.)
// The reference's rot90 turns the image counter-clockwise.
TEST(PdqHasher, DihedralVariantsMatchTransformedPixels) {
  PdqHasher hasher;
  const int n = 300;
  const auto px = SmoothImage(n);
  auto orig = hasher.Hash({px.data(), n, n, 1, n}, /*dihedral=*/true);
  ASSERT_TRUE(orig.ok());
  EXPECT_EQ(orig->quality, 100);
  // (x, y) of the original lands at where(x, y) in the transformed image.
  auto check = [&](PdqDihedral variant, auto where) {
    std::vector<uint8_t> out(px.size());
    for (int y = 0; y < n; ++y) {
      for (int x = 0; x < n; ++x) {
        const auto [tx, ty] = where(x, y);
        out[static_cast<size_t>(ty) * n + tx] = px[static_cast<size_t>(y) * n + x];
      }
    }
    auto r = hasher.Hash({out.data(), n, n, 1, n});
    ASSERT_TRUE(r.ok());
    EXPECT_LE(HammingDistance(orig->dihedral[static_cast<int>(variant)], r->hash), 4)
        << static_cast<int>(variant);
  };
  using P = std::pair<int, int>;
  check(PdqDihedral::kRot90, [&](int x, int y) { return P{y, n - 1 - x}; });
  check(PdqDihedral::kRot180, [&](int x, int y) { return P{n - 1 - x, n - 1 - y}; });
  check(PdqDihedral::kRot270, [&](int x, int y) { return P{n - 1 - y, x}; });
  check(PdqDihedral::kFlipX, [&](int x, int y) { return P{x, n - 1 - y}; });
  check(PdqDihedral::kFlipY, [&](int x, int y) { return P{n - 1 - x, y}; });
  check(PdqDihedral::kFlipPlus1, [&](int x, int y) { return P{y, x}; });
  check(PdqDihedral::kFlipMinus1, [&](int x, int y) { return P{n - 1 - y, n - 1 - x}; });
}

// ---- PNG formats -------------------------------------------------------------------------------

TEST(ImageDecode, Png16BitIsRoundedTo8Bits) {
  // 0, 128, 32896 (= 128 * 257), 65535, 4660, 32767 -> round(v / 257).
  const std::string grey = Bytes({0, 0, 0, 128, 128, 128, 255, 255, 0x12, 0x34, 0x7F, 0xFF});
  DecodedImage g = MustDecode(MakePng(3, 2, 16, 0, Scanlines(grey, 6)));
  EXPECT_EQ(g.channels, 1);
  EXPECT_EQ(PixelsOf(g), Bytes({0, 0, 128, 255, 18, 127}));
  const std::string rgb = Bytes({0xFF, 0xFF, 0, 0, 0x12, 0x34});
  DecodedImage c = MustDecode(MakePng(1, 1, 16, 2, Scanlines(rgb, 6)));
  EXPECT_EQ(c.channels, 3);
  EXPECT_EQ(PixelsOf(c), Bytes({255, 0, 18}));
}

TEST(ImageDecode, PngLowBitDepthGreyIsScaled) {
  // 1 bit: 10 pixels 1,0,1,1,0,0,0,1 | 1,0 -> 0xB1, 0x80.
  DecodedImage one = MustDecode(MakePng(10, 1, 1, 0, Scanlines(Bytes({0xB1, 0x80}), 2)));
  EXPECT_EQ(PixelsOf(one), Bytes({255, 0, 255, 255, 0, 0, 0, 255, 255, 0}));
  // 2 bits: 0, 1, 2, 3 -> 0, 85, 170, 255.
  DecodedImage two = MustDecode(MakePng(4, 1, 2, 0, Scanlines(Bytes({0x1B}), 1)));
  EXPECT_EQ(PixelsOf(two), Bytes({0, 85, 170, 255}));
}

TEST(ImageDecode, PngAlphaIsDroppedNotComposited) {
  DecodedImage rgba =
      MustDecode(MakePng(2, 1, 8, 6, Scanlines(Bytes({10, 20, 30, 0, 40, 50, 60, 128}), 8)));
  EXPECT_EQ(rgba.channels, 3);
  EXPECT_EQ(PixelsOf(rgba), Bytes({10, 20, 30, 40, 50, 60}));
  DecodedImage ga = MustDecode(MakePng(2, 1, 8, 4, Scanlines(Bytes({77, 0, 99, 255}), 4)));
  EXPECT_EQ(ga.channels, 1);
  EXPECT_EQ(PixelsOf(ga), Bytes({77, 99}));
}

TEST(ImageDecode, PngPaletteIsExpandedAndTransparencyIgnored) {
  const std::string plte = PngChunk("PLTE", Bytes({1, 2, 3, 200, 100, 50}));
  const std::string trns = PngChunk("tRNS", Bytes({0, 0}));
  DecodedImage p = MustDecode(MakePng(3, 1, 8, 3, Scanlines(Bytes({1, 0, 1}), 3), plte + trns));
  EXPECT_EQ(p.channels, 3);
  EXPECT_EQ(PixelsOf(p), Bytes({200, 100, 50, 1, 2, 3, 200, 100, 50}));
}

// ImageMagick writes a colour image whose pixels are all grey as PGM; so must we.
TEST(ImageDecode, ColourImageWithOnlyGreyPixelsDecodesAsGrey) {
  DecodedImage g = MustDecode(MakePng(2, 1, 8, 2, Scanlines(Bytes({5, 5, 5, 9, 9, 9}), 6)));
  EXPECT_EQ(g.channels, 1);
  EXPECT_EQ(PixelsOf(g), Bytes({5, 9}));
  DecodedImage c = MustDecode(MakePng(2, 1, 8, 2, Scanlines(Bytes({5, 5, 5, 9, 9, 8}), 6)));
  EXPECT_EQ(c.channels, 3);
}

TEST(ImageDecode, InterlacedPngEqualsPlainPng) {
  const int w = 13, h = 11;
  const auto px = NoiseImage(w, h, 3, 6);
  const std::string pixels(px.begin(), px.end());
  DecodedImage plain = MustDecode(MakePng(w, h, 8, 2, Scanlines(pixels, w * 3)));
  DecodedImage adam7 =
      MustDecode(MakePng(w, h, 8, 2, Adam7Scanlines(pixels, w, h, 3), "", /*interlaced=*/true));
  EXPECT_EQ(PixelsOf(plain), pixels);
  EXPECT_EQ(PixelsOf(adam7), pixels);
}

// ---- refusals ----------------------------------------------------------------------------------

StatusCode HashCode(const std::string& path) {
  auto r = HashFile(path, HashOptions{});
  EXPECT_FALSE(r.ok()) << path;
  if (!r.ok()) {
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().ToString();
  }
  return r.ok() ? StatusCode::kOk : r.status().code();
}

TEST(HashFileRefuses, NonImages) {
  TempDir dir;
  EXPECT_EQ(HashCode(dir.Write("notes.txt", "hello, this is not an image\n")),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(HashCode(dir.Write("empty.jpg", "")), StatusCode::kInvalidArgument);
  EXPECT_EQ(HashCode(dir.path() + "/missing.jpg"), StatusCode::kNotFound);
  EXPECT_EQ(HashCode(dir.path()), StatusCode::kInvalidArgument);
  // Right magic, nothing behind it.
  EXPECT_EQ(HashCode(dir.Write("magic.jpg", "\xFF\xD8\xFF")), StatusCode::kInvalidArgument);
  EXPECT_EQ(HashCode(dir.Write("magic.png", std::string("\x89PNG\r\n\x1a\n", 8))),
            StatusCode::kInvalidArgument);
}

TEST(HashFileRefuses, TruncatedImages) {
  TempDir dir;
  const std::string baseline = ReadBytes(PdqData("images/dih/bridge-1-original.jpg"));
  const std::string progressive = ReadBytes(PdqData("images/dih/bridge-2-rotate-90.jpg"));
  const std::string png = ReadBytes(PdqData("images/pen-and-coaster.png"));
  for (double fraction : {0.1, 0.5, 0.98}) {
    SCOPED_TRACE(fraction);
    auto cut = [&](const std::string& s) { return s.substr(0, s.size() * fraction); };
    EXPECT_EQ(HashCode(dir.Write("baseline.jpg", cut(baseline))), StatusCode::kInvalidArgument);
    EXPECT_EQ(HashCode(dir.Write("progressive.jpg", cut(progressive))),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(HashCode(dir.Write("cut.png", cut(png))), StatusCode::kInvalidArgument);
  }
  // Everything but the end-of-image marker.
  EXPECT_EQ(HashCode(dir.Write("noeoi.jpg", baseline.substr(0, baseline.size() - 2))),
            StatusCode::kInvalidArgument);
  // All the image data but no IEND chunk.
  EXPECT_EQ(HashCode(dir.Write("noiend.png", png.substr(0, png.size() - 12))),
            StatusCode::kInvalidArgument);
}

// Sizes are checked from the header, before any pixel buffer is allocated.
TEST(HashFileRefuses, HugeDeclaredSizes) {
  TempDir dir;
  // A PNG header declaring 100000 x 100000 pixels, followed by a tiny IDAT.
  const std::string png = MakePng(100000, 100000, 8, 0, Scanlines(Bytes({0, 0}), 2));
  EXPECT_EQ(HashCode(dir.Write("huge.png", png)), StatusCode::kResourceExhausted);
  // A real JPEG whose frame header is patched to 60000 x 60000.
  std::string jpeg = ReadBytes(PdqData("images/labelme-subset/q0003.jpg"));
  size_t sof = std::string::npos;
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (static_cast<uint8_t>(jpeg[i]) == 0xFF &&
        (static_cast<uint8_t>(jpeg[i + 1]) == 0xC0 || static_cast<uint8_t>(jpeg[i + 1]) == 0xC2)) {
      sof = i;
      break;
    }
  }
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 5] = jpeg[sof + 7] = static_cast<char>(60000 >> 8);
  jpeg[sof + 6] = jpeg[sof + 8] = static_cast<char>(60000 & 0xFF);
  EXPECT_EQ(HashCode(dir.Write("huge.jpg", jpeg)), StatusCode::kResourceExhausted);
  // And the limit is the caller's.
  HashOptions small;
  small.max_pixels = 1600 * 1004 - 1;
  EXPECT_EQ(HashFile(PdqData("images/dih/bridge-1-original.jpg"), small).status().code(),
            StatusCode::kResourceExhausted);
  small.max_file_bytes = 1000;
  EXPECT_EQ(HashFile(PdqData("images/dih/bridge-1-original.jpg"), small).status().code(),
            StatusCode::kResourceExhausted);
}

// ---- paths and the thread pool -----------------------------------------------------------------

TEST(ExpandImagePaths, WalksDirectoriesInOrderAndKeepsNamedFiles) {
  TempDir dir;
  fs::create_directories(dir.path() + "/b/sub");
  dir.Write("b/sub/z.PNG", "x");
  dir.Write("b/a.jpeg", "x");
  dir.Write("b/skip.txt", "x");
  dir.Write("named.txt", "x");
  auto got = ExpandImagePaths({dir.path() + "/named.txt", dir.path() + "/b", "/no/such/file"});
  ASSERT_TRUE(got.ok());
  const std::vector<std::string> want = {dir.path() + "/named.txt", dir.path() + "/b/a.jpeg",
                                         dir.path() + "/b/sub/z.PNG", "/no/such/file"};
  EXPECT_EQ(*got, want);
}

TEST(HashFiles, KeepsInputOrderWithErrorsInPlace) {
  std::vector<std::string> paths;
  for (const Reference& ref : MeasuredReferences()) paths.push_back(PdqData("images/" + ref.path));
  paths.insert(paths.begin() + 3, "/no/such/file.jpg");
  for (int threads : {1, 3, 0}) {
    SCOPED_TRACE(threads);
    std::atomic<size_t> calls{0};
    auto results = HashFiles(paths, HashOptions{}, threads, [&](size_t done, size_t total) {
      EXPECT_LE(done, total);
      ++calls;
    });
    ASSERT_EQ(results.size(), paths.size());
    EXPECT_EQ(calls.load(), paths.size());
    const auto refs = MeasuredReferences();
    for (size_t i = 0, r = 0; i < paths.size(); ++i) {
      if (i == 3) {
        EXPECT_EQ(results[i].status().code(), StatusCode::kNotFound);
        continue;
      }
      ASSERT_TRUE(results[i].ok()) << results[i].status().ToString();
      EXPECT_EQ(results[i]->file, paths[i]);
      EXPECT_EQ(results[i]->pdq.ToHex(), refs[r++].hex);
    }
  }
  EXPECT_TRUE(HashFiles({}, HashOptions{}, 0, nullptr).empty());
}

}  // namespace
}  // namespace hashmesh
