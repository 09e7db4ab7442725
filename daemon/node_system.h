// What the node asks of the operating system and systemd: the data directory's lock, sd_notify
// and the watchdog's interval and probe, the query socket's group.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/status.h"

namespace hashmesh {

// Two daemons on one data directory would each sequence the same feed and fork it: refuse.
// Returns the lock's fd, held for the node's life.
Result<int> LockDataDir(const std::string& dir);
// sd_notify(state), when built with systemd.
void Notify(const char* state);
// The watchdog interval systemd asked for (WatchdogSec=), or zero.
std::chrono::microseconds WatchdogInterval();
// One GET /v1/status on the query socket, answered 200 within `timeout`.
bool ProbeQuerySocket(const std::string& path, std::chrono::milliseconds timeout);
// The gid of `name`, or nullopt (with a notice) when there is no such group.
std::optional<gid_t> SocketGroup(const std::string& name);

}  // namespace hashmesh
