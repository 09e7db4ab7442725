// The sync wing's PeerInfo rendered as the API's api.PeersResponse (GET /v1/peers). Pure.
#pragma once

#include <vector>

#include "daemon/sync/peer_info.h"
#include "proto/api.pb.h"

namespace hashmesh {

api::PeersResponse ToPeersResponse(const std::vector<PeerInfo>& peers);

}  // namespace hashmesh
