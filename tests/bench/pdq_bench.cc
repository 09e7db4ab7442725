// Benchmarks of image hashing on the eight 1600x1004 dih JPEGs, single thread: whole files
// (read + decode + PDQ + MD5 + SHA-256), and each stage alone so that the figures add up.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/file_hasher.h"
#include "common/image_decode.h"
#include "common/pdq_hasher.h"

namespace hashmesh {
namespace {

const std::vector<std::string>& DihPaths() {
  static const std::vector<std::string> paths = [] {
    std::vector<std::string> p;
    for (const char* name :
         {"bridge-1-original.jpg", "bridge-2-rotate-90.jpg", "bridge-3-rotate-180.jpg",
          "bridge-4-rotate-270.jpg", "bridge-5-flipx.jpg", "bridge-6-flipy.jpg",
          "bridge-7-flip-plus-1.jpg", "bridge-8-flip-minus-1.jpg"}) {
      p.push_back(std::string(HASHMESH_TESTDATA) + "/pdq/images/dih/" + name);
    }
    return p;
  }();
  return paths;
}

const std::vector<std::vector<uint8_t>>& DihBytes() {
  static const std::vector<std::vector<uint8_t>> files = [] {
    std::vector<std::vector<uint8_t>> out;
    for (const std::string& path : DihPaths()) {
      std::ifstream in(path, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string s = ss.str();
      out.emplace_back(s.begin(), s.end());
    }
    return out;
  }();
  return files;
}

std::vector<DecodedImage> DecodeAll(bool squash) {
  std::vector<DecodedImage> out;
  DecodeOptions options;
  options.squash_for_pdq = squash;
  for (const auto& bytes : DihBytes()) out.push_back(DecodeImage(bytes, options).value());
  return out;
}

// What `hashmesh hash` does per file.
void BM_HashFile(benchmark::State& state) {
  const auto& paths = DihPaths();
  size_t i = 0;
  for (auto _ : state) {
    auto r = HashFile(paths[i++ % paths.size()], HashOptions{});
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashFile)->Unit(benchmark::kMillisecond);

// Decoding as HashFile does it: only the rows and pixels the squash samples.
void BM_DecodeForPdq(benchmark::State& state) {
  const auto& files = DihBytes();
  DecodeOptions options;
  options.squash_for_pdq = true;
  size_t i = 0;
  for (auto _ : state) {
    auto r = DecodeImage(files[i++ % files.size()], options);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeForPdq)->Unit(benchmark::kMillisecond);

// Decoding every pixel, for comparison.
void BM_DecodeFull(benchmark::State& state) {
  const auto& files = DihBytes();
  DecodeOptions options;
  size_t i = 0;
  for (auto _ : state) {
    auto r = DecodeImage(files[i++ % files.size()], options);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeFull)->Unit(benchmark::kMillisecond);

// PDQ alone from a fully decoded 1600x1004 RGB buffer (squash, luma, filter, DCT, median).
void BM_PdqFromFullBuffer(benchmark::State& state) {
  const auto images = DecodeAll(/*squash=*/false);
  PdqHasher hasher;
  const bool dihedral = state.range(0) != 0;
  size_t i = 0;
  for (auto _ : state) {
    auto r = hasher.Hash(images[i++ % images.size()].view(), dihedral);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PdqFromFullBuffer)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// PDQ alone from the 512x512 buffer HashFile actually hands it.
void BM_PdqFromSquashedBuffer(benchmark::State& state) {
  const auto images = DecodeAll(/*squash=*/true);
  PdqHasher hasher;
  size_t i = 0;
  for (auto _ : state) {
    auto r = hasher.Hash(images[i++ % images.size()].view());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PdqFromSquashedBuffer)->Unit(benchmark::kMicrosecond);

// MD5 + SHA-256 of the file bytes.
void BM_FileDigests(benchmark::State& state) {
  const auto& files = DihBytes();
  size_t i = 0;
  for (auto _ : state) {
    const auto& bytes = files[i++ % files.size()];
    benchmark::DoNotOptimize(Md5(bytes));
    benchmark::DoNotOptimize(Sha256(bytes));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FileDigests)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace hashmesh

BENCHMARK_MAIN();
