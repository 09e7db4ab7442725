// `hashmesh hash`: fingerprints of local image files (PDQ, MD5, SHA-256), computed here without
// any daemon, e.g. to prepare a `submit` or a `match --batch` file.
#include <cstdio>

#include "common/file_hasher.h"
#include "daemon/cli/cli_commands.h"

namespace hashmesh::cli {

namespace {

constexpr const char* kVariantNames[] = {"orig",  "rot90", "rot180", "rot270",
                                         "flipx", "flipy", "flipp",  "flipm"};

std::string HashJson(const FileHashes& h, bool dihedral) {
  std::string out = "{\"file\":" + JsonQuote(h.file) + ",\"pdq\":\"" + h.pdq.ToHex() +
                    "\",\"quality\":" + std::to_string(h.quality) + ",\"md5\":\"" + h.md5 +
                    "\",\"sha256\":\"" + h.sha256 + "\"";
  if (dihedral) {
    out += ",\"dihedral\":{";
    for (size_t k = 0; k < h.dihedral.size() && k < std::size(kVariantNames); ++k) {
      if (k > 0) out += ",";
      out += "\"" + std::string(kVariantNames[k]) + "\":\"" + h.dihedral[k].ToHex() + "\"";
    }
    out += "}";
  }
  return out + "}";
}

std::string HashText(const FileHashes& h, bool dihedral) {
  std::string out = h.file + "\n";
  out += "  pdq     " + h.pdq.ToHex() + "  quality " + std::to_string(h.quality);
  if (h.quality < kPdqMinQuality) out += " (low: not used for matching by default)";
  out += "\n  md5     " + h.md5 + "\n  sha256  " + h.sha256 + "\n";
  if (dihedral) {
    for (size_t k = 1; k < h.dihedral.size() && k < std::size(kVariantNames); ++k) {
      std::string name = kVariantNames[k];
      name.resize(7, ' ');
      out += "  " + name + " " + h.dihedral[k].ToHex() + "\n";
    }
  }
  return out;
}

}  // namespace

int RunHash(const Context& ctx, const HashArgs& args) {
  if (args.threads < 0) return Fail(InvalidArgument("--threads must be 0 (all cores) or more"));
  auto paths = ExpandImagePaths(args.paths);
  if (!paths.ok()) return Fail(InvalidArgument(paths.status().message()));
  if (paths->empty()) return Fail(InvalidArgument("no image files found"));
  HashOptions options;
  options.dihedral = args.dihedral;
  std::vector<Result<FileHashes>> hashed;
  {
    ProgressBar bar("hashing", paths->size());
    hashed =
        HashFiles(*paths, options, args.threads, [&bar](size_t done, size_t) { bar.Update(done); });
  }
  int exit_code = kExitOk;
  std::string json;
  for (size_t i = 0; i < hashed.size(); ++i) {
    if (!hashed[i].ok()) {
      // Reported as it comes; the other files are still printed.
      Fail(FileError((*paths)[i], hashed[i].status()));
      exit_code = kExitError;
      continue;
    }
    if (ctx.json) {
      if (!json.empty()) json += ",";
      json += HashJson(*hashed[i], args.dihedral);
    } else {
      std::string text = HashText(*hashed[i], args.dihedral);
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
  }
  if (ctx.json) PrintJsonDocument("[" + json + "]");
  return exit_code;
}

}  // namespace hashmesh::cli
