// JPEG and PNG decoding for PDQ: libjpeg-turbo and libpng behind setjmp guards, emulating the
// reference's ImageMagick -> PNM path, and sampling only the pixels PDQ's squash reads.
#include "common/image_decode.h"

#include <jpeglib.h>
// jerror.h needs jpeglib.h first.
#include <jerror.h>
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace hashmesh {
namespace {

// The accurate integer IDCT (libjpeg's default) reproduces every reference hash in testdata; the
// float IDCT misses five small JPEGs by 2 to 18 bits and the fast integer one misses ten. Its SIMD
// and C versions agree bit for bit, so results do not depend on the CPU either.
constexpr J_DCT_METHOD kJpegDctMethod = JDCT_ISLOW;
// A progressive JPEG may hold thousands of tiny scans that each cost a pass over the whole
// coefficient buffer; real encoders write about ten.
constexpr int kMaxJpegScans = 500;

// A decoder buffer of a few MB (a progressive JPEG's coefficients are 6 bytes per pixel) is above
// glibc's mmap threshold, so every image would map fresh pages and take a page fault and a
// zeroing per 4 KiB: about a third of the decoding time. Keeping such blocks in the heap lets
// the next image reuse them. Only the CLI links this library, so the process-wide setting is ours.
void TuneAllocatorOnce() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
  });
#endif
}

// ---- output sampling ---------------------------------------------------------------------------

// ImageMagick's CMYK -> RGB conversion (Q16, non-HDRI) followed by its 16 -> 8 bit scaling, for
// libjpeg's CMYK samples, which ImageMagick reads as inverted (Adobe) CMYK.
struct CmykTable {
  uint8_t rgb[256][256];  // [ink sample][black sample]

  CmykTable() {
    constexpr double kRange = 65535.0;
    constexpr double kScale = 1.0 / kRange;
    for (int c = 0; c < 256; ++c) {
      for (int k = 0; k < 256; ++k) {
        const double ink = kRange - 257.0 * c;  // QuantumRange - ScaleCharToQuantum(sample)
        const double black = kRange - 257.0 * k;
        const double v = kRange - (kScale * ink * (kRange - black) + black);
        unsigned q = v <= 0.0 ? 0u : v >= kRange ? 65535u : static_cast<unsigned>(v + 0.5);
        rgb[c][k] = static_cast<uint8_t>(((q + 128u) - ((q + 128u) >> 8)) >> 8);
      }
    }
  }
};

const CmykTable& Cmyk() {
  static const CmykTable* const table = new CmykTable;
  return *table;
}

bool IsGreyRow(const uint8_t* rgb, int width) {
  for (int x = 0; x < width; ++x, rgb += 3) {
    if (rgb[0] != rgb[1] || rgb[1] != rgb[2]) return false;
  }
  return true;
}

// Collects the output image from source rows given in increasing order. Source pixels are grey
// (1), RGB (3) or CMYK (4); the output is grey or RGB.
class RowSampler {
 public:
  RowSampler(int width, int height, int in_channels, bool squash)
      : src_width_(width),
        src_height_(height),
        in_channels_(in_channels),
        squash_(squash && PdqNeedsSquash(width, height)),
        out_width_(squash_ ? kPdqSquashSize : width),
        out_height_(squash_ ? kPdqSquashSize : height),
        out_channels_(in_channels == 1 ? 1 : 3),
        all_grey_(in_channels == 3) {
    cols_.resize(out_width_);
    for (int x = 0; x < out_width_; ++x) cols_[x] = squash_ ? PdqSquashSource(x, width) : x;
    pixels_.resize(static_cast<size_t>(out_width_) * out_height_ * out_channels_);
  }

  // The next source row the output needs; the source height once the output is complete.
  int NextRow() const { return next_out_ < out_height_ ? SourceRow(next_out_) : src_height_; }
  bool squashing_rows() const { return squash_ && src_height_ > kPdqSquashSize; }

  // Takes source row `y`. Rows the output does not need only feed the grey check.
  void Put(int y, const uint8_t* row) {
    if (all_grey_) all_grey_ = IsGreyRow(row, src_width_);
    while (next_out_ < out_height_ && SourceRow(next_out_) == y) {
      uint8_t* out = pixels_.data() + static_cast<size_t>(next_out_) * out_width_ * out_channels_;
      if (next_out_ > 0 && SourceRow(next_out_ - 1) == y) {
        // The squash repeats rows of a short image.
        std::memcpy(out, out - out_width_ * out_channels_, out_width_ * out_channels_);
      } else {
        SampleRow(row, out);
      }
      ++next_out_;
    }
  }

  // Whether every source row seen so far (all rows, for a full decode) had R == G == B.
  bool all_grey() const { return all_grey_; }

  DecodedImage Finish() && {
    DecodedImage image;
    image.source_width = src_width_;
    image.source_height = src_height_;
    image.width = out_width_;
    image.height = out_height_;
    image.channels = out_channels_;
    if (out_channels_ == 3 && all_grey_) {
      const size_t n = static_cast<size_t>(out_width_) * out_height_;
      for (size_t i = 0; i < n; ++i) pixels_[i] = pixels_[3 * i];
      pixels_.resize(n);
      image.channels = 1;
    }
    image.pixels = std::move(pixels_);
    return image;
  }

 private:
  int SourceRow(int out_y) const { return squash_ ? PdqSquashSource(out_y, src_height_) : out_y; }

  void SampleRow(const uint8_t* row, uint8_t* out) const {
    switch (in_channels_) {
      case 1:
        for (int x = 0; x < out_width_; ++x) out[x] = row[cols_[x]];
        break;
      case 3:
        if (!squash_) {
          std::memcpy(out, row, static_cast<size_t>(out_width_) * 3);
          break;
        }
        // One 4-byte move per pixel (the 4th byte is overwritten by the next pixel) instead of
        // three byte moves; the source rows have a byte of slack at the end for the last read.
        for (int x = 0; x + 1 < out_width_; ++x, out += 3) {
          std::memcpy(out, row + 3 * cols_[x], 4);
        }
        std::memcpy(out, row + 3 * cols_[out_width_ - 1], 3);
        break;
      case 4: {
        const CmykTable& t = Cmyk();
        for (int x = 0; x < out_width_; ++x, out += 3) {
          const uint8_t* p = row + 4 * cols_[x];
          out[0] = t.rgb[p[0]][p[3]];
          out[1] = t.rgb[p[1]][p[3]];
          out[2] = t.rgb[p[2]][p[3]];
        }
        break;
      }
    }
  }

  const int src_width_;
  const int src_height_;
  const int in_channels_;
  const bool squash_;
  const int out_width_;
  const int out_height_;
  const int out_channels_;
  bool all_grey_;
  int next_out_ = 0;
  std::vector<int> cols_;
  std::vector<uint8_t> pixels_;
};

Status CheckPixelLimit(uint64_t width, uint64_t height, uint64_t max_pixels, const char* format) {
  if (width * height > max_pixels) {
    return ResourceExhausted(std::string(format) + " declares " + std::to_string(width) + "x" +
                             std::to_string(height) + " pixels, more than the limit of " +
                             std::to_string(max_pixels));
  }
  return Status::Ok();
}

// ---- JPEG ------------------------------------------------------------------------------------

// libjpeg reports fatal errors through error_exit, which must not return: it longjmps back to
// the setjmp in JpegSession::Guard. Only libjpeg's C frames and Guard's callable lie between the
// two, and none of them owns an object with a destructor.
struct JpegErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool damaged;  // a warning that means pixels are missing or wrong
};

void OnJpegError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void OnJpegMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
      if (!err->damaged) (*cinfo->err->format_message)(cinfo, err->message);
      err->damaged = true;
      break;
    default:  // e.g. extraneous bytes before a marker, an unknown JFIF revision: harmless
      break;
  }
}

void OnJpegProgress(j_common_ptr cinfo) {
  auto* dinfo = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (dinfo->input_scan_number > kMaxJpegScans) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    std::snprintf(err->message, sizeof err->message, "more than %d progressive scans",
                  kMaxJpegScans);
    std::longjmp(err->jump, 1);
  }
}

class JpegSession {
 public:
  JpegSession() {
    std::memset(&err_, 0, sizeof err_);
    cinfo_.err = jpeg_std_error(&err_.pub);
    err_.pub.error_exit = OnJpegError;
    err_.pub.emit_message = OnJpegMessage;
    progress_.progress_monitor = OnJpegProgress;
  }
  ~JpegSession() { jpeg_destroy_decompress(&cinfo_); }
  JpegSession(const JpegSession&) = delete;
  JpegSession& operator=(const JpegSession&) = delete;

  jpeg_decompress_struct& cinfo() { return cinfo_; }

  // Runs `step`, which may call libjpeg but must not create objects with destructors, and turns
  // a libjpeg error into a Status.
  template <typename Step>
  Status Guard(const Step& step) {
    if (setjmp(err_.jump) != 0) return InvalidArgument(std::string("jpeg: ") + err_.message);
    step();
    if (err_.damaged) return InvalidArgument(std::string("jpeg: ") + err_.message);
    return Status::Ok();
  }

  // jpeg_create_decompress zeroes cinfo first, so destroying it is safe even if this fails.
  Status Open(std::span<const uint8_t> data) {
    return Guard([&] {
      jpeg_create_decompress(&cinfo_);
      cinfo_.progress = &progress_;
      jpeg_mem_src(&cinfo_, data.data(), static_cast<unsigned long>(data.size()));
      jpeg_read_header(&cinfo_, TRUE);
    });
  }

 private:
  jpeg_decompress_struct cinfo_{};
  JpegErrorManager err_;
  jpeg_progress_mgr progress_{};
};

Result<DecodedImage> DecodeJpeg(std::span<const uint8_t> data, const DecodeOptions& options) {
  JpegSession session;
  HM_RETURN_IF_ERROR(session.Open(data));
  jpeg_decompress_struct& cinfo = session.cinfo();
  HM_RETURN_IF_ERROR(
      CheckPixelLimit(cinfo.image_width, cinfo.image_height, options.max_pixels, "jpeg"));
  switch (cinfo.num_components) {
    case 1:
      cinfo.out_color_space = JCS_GRAYSCALE;
      break;
    case 3:
      cinfo.out_color_space = JCS_RGB;
      break;
    case 4:  // CMYK or YCCK; libjpeg turns YCCK into CMYK
      cinfo.out_color_space = JCS_CMYK;
      break;
    default:
      return InvalidArgument("jpeg: unsupported number of components: " +
                             std::to_string(cinfo.num_components));
  }
  cinfo.dct_method = kJpegDctMethod;
  HM_RETURN_IF_ERROR(session.Guard([&] { jpeg_start_decompress(&cinfo); }));

  const int width = static_cast<int>(cinfo.output_width);
  const int height = static_cast<int>(cinfo.output_height);
  RowSampler sampler(width, height, cinfo.output_components, options.squash_for_pdq);
  const bool skip_rows = sampler.squashing_rows();
  std::vector<uint8_t> row(static_cast<size_t>(width) * cinfo.output_components + 1);
  uint8_t* const row_data = row.data();
  HM_RETURN_IF_ERROR(session.Guard([&] {
    // Rows the squash does not sample are skipped (no upsampling or colour conversion), but only
    // once a non-grey pixel has been seen: until then they are needed for the grey check. Rows
    // after the last sampled one are read, so that a truncated tail is noticed.
    while (cinfo.output_scanline < cinfo.output_height) {
      const JDIMENSION next = static_cast<JDIMENSION>(sampler.NextRow());
      if (skip_rows && !sampler.all_grey() && next < cinfo.output_height &&
          cinfo.output_scanline < next) {
        jpeg_skip_scanlines(&cinfo, next - cinfo.output_scanline);
      }
      JSAMPROW rows[1] = {row_data};
      jpeg_read_scanlines(&cinfo, rows, 1);
      sampler.Put(static_cast<int>(cinfo.output_scanline) - 1, row_data);
    }
    jpeg_finish_decompress(&cinfo);
  }));
  return std::move(sampler).Finish();
}

// ---- PNG -------------------------------------------------------------------------------------

// As for JPEG: libpng's error callback must not return and longjmps to PngSession::Guard.
struct PngErrorManager {
  std::jmp_buf jump;
  char message[200];
};

struct PngInput {
  std::span<const uint8_t> data;
  size_t offset = 0;
};

void OnPngError(png_structp png, png_const_charp message) {
  auto* err = static_cast<PngErrorManager*>(png_get_error_ptr(png));
  std::snprintf(err->message, sizeof err->message, "%s", message);
  std::longjmp(err->jump, 1);
}

void OnPngWarning(png_structp, png_const_charp) {}  // e.g. a known-incorrect sRGB profile

void OnPngRead(png_structp png, png_bytep out, size_t length) {
  auto* input = static_cast<PngInput*>(png_get_io_ptr(png));
  if (input->data.size() - input->offset < length) png_error(png, "unexpected end of file");
  std::memcpy(out, input->data.data() + input->offset, length);
  input->offset += length;
}

class PngSession {
 public:
  explicit PngSession(std::span<const uint8_t> data) : input_{data} {
    std::memset(&err_, 0, sizeof err_);
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err_, OnPngError, OnPngWarning);
    if (png_ != nullptr) info_ = png_create_info_struct(png_);
    if (info_ != nullptr) {
      png_set_read_fn(png_, &input_, OnPngRead);
      // libpng's own limit (a million pixels a side) would refuse sizes that DecodeOptions'
      // max_pixels allows; that check is ours, made right after the header.
      png_set_user_limits(png_, 0x7FFFFFFF, 0x7FFFFFFF);
    }
  }
  ~PngSession() { png_destroy_read_struct(&png_, &info_, nullptr); }
  PngSession(const PngSession&) = delete;
  PngSession& operator=(const PngSession&) = delete;

  bool ok() const { return info_ != nullptr; }
  png_structp png() { return png_; }
  png_infop info() { return info_; }

  template <typename Step>
  Status Guard(const Step& step) {
    if (setjmp(err_.jump) != 0) return InvalidArgument(std::string("png: ") + err_.message);
    step();
    return Status::Ok();
  }

 private:
  PngInput input_;
  PngErrorManager err_;
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

Result<DecodedImage> DecodePng(std::span<const uint8_t> data, const DecodeOptions& options) {
  PngSession session(data);
  if (!session.ok()) return Internal("png: cannot create decoder");
  png_structp png = session.png();
  png_infop info = session.info();
  HM_RETURN_IF_ERROR(session.Guard([&] { png_read_info(png, info); }));
  const png_uint_32 width = png_get_image_width(png, info);
  const png_uint_32 height = png_get_image_height(png, info);
  HM_RETURN_IF_ERROR(CheckPixelLimit(width, height, options.max_pixels, "png"));
  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  int passes = 1;
  HM_RETURN_IF_ERROR(session.Guard([&] {
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    // Deliberately not the reference here: ImageMagick writes a 16-bit PNG as a 16-bit PNM, and
    // CImg<uint8_t> keeps the low byte of each sample, so the reference hashes noise. We round
    // to 8 bits (as ImageMagick's own 8-bit output would), following PDQ.md's "decode to 8-bit";
    // testdata has no such file. 1, 2 and 4-bit grey is scaled to 0..255 (1-bit matches).
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16) png_set_scale_16(png);
    // Drops an alpha channel, and also the one that palette expansion makes from tRNS.
    png_set_strip_alpha(png);
    passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
  }));
  const int channels = png_get_channels(png, info);
  if ((channels != 1 && channels != 3) || png_get_bit_depth(png, info) != 8) {
    return InvalidArgument("png: unsupported pixel format");
  }
  const int w = static_cast<int>(width);
  const int h = static_cast<int>(height);
  const size_t row_bytes = static_cast<size_t>(w) * channels;
  RowSampler sampler(w, h, channels, options.squash_for_pdq);
  if (passes == 1) {
    std::vector<uint8_t> row(row_bytes + 1);
    uint8_t* const row_data = row.data();
    HM_RETURN_IF_ERROR(session.Guard([&] {
      for (int y = 0; y < h; ++y) {
        png_read_row(png, row_data, nullptr);
        sampler.Put(y, row_data);
      }
      png_read_end(png, nullptr);
    }));
  } else {
    // Adam7 spreads every row over seven passes: the whole image has to be in memory.
    std::vector<uint8_t> image(row_bytes * h + 1);
    std::vector<png_bytep> rows(h);
    for (int y = 0; y < h; ++y) rows[y] = image.data() + row_bytes * y;
    png_bytepp row_pointers = rows.data();
    HM_RETURN_IF_ERROR(session.Guard([&] {
      png_read_image(png, row_pointers);
      png_read_end(png, nullptr);
    }));
    for (int y = 0; y < h; ++y) sampler.Put(y, rows[y]);
  }
  return std::move(sampler).Finish();
}

bool IsJpeg(std::span<const uint8_t> d) {
  return d.size() >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF;
}

bool IsPng(std::span<const uint8_t> d) {
  static constexpr uint8_t kMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return d.size() >= 8 && std::memcmp(d.data(), kMagic, 8) == 0;
}

}  // namespace

Result<DecodedImage> DecodeImage(std::span<const uint8_t> data, const DecodeOptions& options) {
  if (data.empty()) return InvalidArgument("empty file");
  TuneAllocatorOnce();
  // Buffers are bounded by max_pixels, but that can still be more memory than there is. Only our
  // own allocations can throw here (libjpeg and libpng report theirs through their error paths),
  // and none of them happens inside a setjmp guard.
  try {
    if (IsJpeg(data)) return DecodeJpeg(data, options);
    if (IsPng(data)) return DecodePng(data, options);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory decoding the image");
  }
  return InvalidArgument("not a JPEG or PNG image");
}

}  // namespace hashmesh
