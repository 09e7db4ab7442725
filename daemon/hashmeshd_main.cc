// hashmeshd: the node daemon. Parses flags and the config file (one option table, see
// node_config.h), starts the Node, and turns signals into shutdown (INT, TERM) or reload (HUP).
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "common/config.h"
#include "common/log.h"
#include "daemon/node.h"
#include "daemon/node_config.h"
#include "proto/api.pb.h"

namespace {

constexpr char kDescription[] =
    "hashmeshd: a node of the hashmesh federation. It signs what its member publishes, keeps a\n"
    "replica of every trusted member's feed in LMDB, and answers local apps over unix sockets.\n\n"
    "With no flags it runs a single node from ./hashmesh-data, creating keys, a trust store and\n"
    "the sockets there on first start. Every flag is also a config-file key\n"
    "(see --config-reference). Signals: INT/TERM stop, HUP reloads trust store and policy.";

// Every local API connection (up to 1,024 per socket) and every peer takes a descriptor, so a
// soft limit left at the usual 1,024 runs out before those limits apply. The hard limit is the
// operator's to set (LimitNOFILE in the unit); we only stop short of it.
void RaiseOpenFileLimit() {
  using namespace hashmesh;
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  const rlim_t was = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) == 0) {
    LogInfo("raised open file limit")
        .Kv("from", static_cast<uint64_t>(was))
        .Kv("to", static_cast<uint64_t>(lim.rlim_cur));
  }
}

int Run(int argc, char** argv) {
  using namespace hashmesh;
  CLI::App app(kDescription, "hashmeshd");
  app.get_formatter()->column_width(34);
  std::string config_file;
  bool print_reference = false;
  app.add_option("--config", config_file, "TOML config file (keys: see --config-reference)");
  app.add_flag("--config-reference", print_reference,
               "Print every config key with its flag, default and meaning, and exit");
  app.add_flag_callback(
      "--version", [] { std::printf("hashmeshd %s\n", HASHMESH_VERSION); std::exit(0); },
      "Print the version and exit");
  std::vector<std::pair<std::string, std::string>> flag_values;
  for (const auto& o : ConfigOptions()) {
    if (o.flag.empty()) continue;
    std::string key = o.key;
    std::string help = o.help + " [" + o.default_text + "]";
    if (o.type == "list of strings") {
      app.add_option_function<std::vector<std::string>>(
             o.flag,
             [key, &flag_values](const std::vector<std::string>& vs) {
               for (const auto& v : vs) flag_values.emplace_back(key, v);
             },
             help)
          ->type_name("HOST:PORT")
          ->allow_extra_args(false);
    } else {
      app.add_option_function<std::string>(
             o.flag, [key, &flag_values](const std::string& v) { flag_values.emplace_back(key, v); },
             help)
          ->type_name(o.type == "integer" ? "N" : "TEXT")
          // The last one counts, so a wrapper's defaults can be overridden by appending flags.
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (print_reference) {
    std::cout << ConfigReferenceMarkdown();
    return 0;
  }

  NodeConfig config;
  if (!config_file.empty()) {
    auto file = LoadConfigFile(config_file);
    if (!file.ok()) {
      std::cerr << "hashmeshd: " << file.status().message() << "\n";
      return 2;
    }
    if (Status s = ApplyConfigFile(*file, &config); !s.ok()) {
      std::cerr << "hashmeshd: " << s.message() << "\n";
      return 2;
    }
  }
  for (const auto& [key, value] : flag_values) {
    if (Status s = ApplyConfigFlag(key, value, &config); !s.ok()) {
      std::cerr << "hashmeshd: " << s.message() << "\n";
      return 2;
    }
  }

  // Signals are taken synchronously by this thread; every thread started later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  RaiseOpenFileLimit();

  auto node = Node::Start(std::move(config));
  if (!node.ok()) {
    LogError("cannot start").Kv("error", node.status().message());
    std::cerr << "hashmeshd: " << node.status().message() << "\n";
    return 1;
  }
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      auto reloaded = (*node)->Reload();
      if (!reloaded.ok()) {
        LogError("reload failed; keeping the previous settings")
            .Kv("error", reloaded.status().message());
      }
      continue;
    }
    LogNotice("signal received").Kv("signal", sig == SIGINT ? "INT" : "TERM");
    break;
  }
  (*node)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
