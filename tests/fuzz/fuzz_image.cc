// Fuzzes the JPEG and PNG decoders behind `hashmesh hash` (libjpeg-turbo, libpng and our code
// around them) with a pixel limit, both full decoding and the squash for PDQ, and hashes what
// decodes. The limit is lower than the CLI's so that a fuzzed header cannot make one input
// allocate more than libFuzzer's memory limit.
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/image_decode.h"
#include "common/pdq_hasher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hashmesh;
  static PdqHasher hasher;  // deliberate: only scratch buffers persist between inputs
  const std::span<const uint8_t> bytes(data, size);
  for (bool squash : {false, true}) {
    DecodeOptions options;
    options.max_pixels = 4'000'000;
    options.squash_for_pdq = squash;
    auto image = DecodeImage(bytes, options);
    if (!image.ok()) continue;
    const DecodedImage& d = *image;
    if (d.width <= 0 || d.height <= 0 || (d.channels != 1 && d.channels != 3) ||
        d.pixels.size() != static_cast<size_t>(d.width) * d.height * d.channels) {
      __builtin_trap();
    }
    if (squash && !hasher.Hash(d.view()).ok()) __builtin_trap();
  }
  return 0;
}
