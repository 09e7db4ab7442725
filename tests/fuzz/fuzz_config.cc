// Fuzzes the loaders of operator-written files on the same text: the TOML config as hashmeshd
// reads it (ParseConfigText, ApplyConfigFile, ValidateConfig) and trust.toml (ParseTrustStore,
// then the text SaveTrustStore would write must load back to the same store).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config.h"
#include "daemon/node_config.h"
#include "keys/trust_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hashmesh;
  const std::string text(reinterpret_cast<const char*>(data), size);

  if (auto file = ParseConfigText(text, "fuzz.toml"); file.ok()) {
    NodeConfig config;
    if (ApplyConfigFile(*file, &config).ok()) {
      config.ResolveDefaults();
      (void)ValidateConfig(config);
    }
  }

  auto trust = ParseTrustStore(text, "trust.toml");
  if (trust.ok()) {
    const std::string saved = FormatTrustStore(*trust);
    auto again = ParseTrustStore(saved, "saved trust.toml");
    if (!again.ok() || FormatTrustStore(*again) != saved) __builtin_trap();
  }
  return 0;
}
