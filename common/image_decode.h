// Decoding JPEG (libjpeg-turbo) and PNG (libpng) files into 8-bit grey or RGB pixels the way the
// PDQ reference tool sees them (ImageMagick -> PNM -> CImg), so that PDQ hashes agree bit for bit.
// Part of hashmesh_image (the CLI only, never the daemon). All functions are thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/pdq_hasher.h"
#include "common/status.h"

namespace hashmesh {

struct DecodeOptions {
  // Refuse images whose declared width * height exceeds this, before allocating anything.
  uint64_t max_pixels = 100'000'000;
  // Return only what PDQ samples: when a side exceeds kPdqSquashSize, the result is the
  // kPdqSquashSize x kPdqSquashSize nearest-neighbour squash, identical to what PdqHasher would
  // compute from the full image, but made without converting (and, where the format allows,
  // without decoding) the pixels that are not sampled.
  bool squash_for_pdq = false;
};

struct DecodedImage {
  int source_width = 0;  // as declared by the file
  int source_height = 0;
  int width = 0;  // of `pixels`: the source size, or the squashed size
  int height = 0;
  // 1 (grey) or 3 (RGB). Grey when the file is grey, and also when every pixel of a colour file
  // has R == G == B: the reference's decoding writes such images as PGM, and PDQ's luma of a
  // grey value differs in the last float bit from the weighted sum of three equal values.
  int channels = 0;
  std::vector<uint8_t> pixels;  // rows top to bottom, width * channels bytes each

  PixelView view() const {
    return {pixels.data(), width, height, channels, static_cast<ptrdiff_t>(width) * channels};
  }
};

// Decodes a JPEG or PNG held in memory. Alpha is dropped (not composited), EXIF orientation is
// not applied, CMYK is converted to RGB with ImageMagick's formula, palettes are expanded, 1/2/4-
// bit grey is scaled to 8 bits and 16-bit samples are rounded to 8 bits. Errors:
// InvalidArgument for data that is not a JPEG or PNG, or is truncated or corrupt;
// ResourceExhausted when the declared size exceeds options.max_pixels.
Result<DecodedImage> DecodeImage(std::span<const uint8_t> data, const DecodeOptions& options);

}  // namespace hashmesh
