// PeerInfo -> api.PeerView.
#include "daemon/peer_views.h"

#include "common/proto_time.h"

namespace hashmesh {

api::PeersResponse ToPeersResponse(const std::vector<PeerInfo>& peers) {
  api::PeersResponse out;
  for (const PeerInfo& p : peers) {
    api::PeerView* v = out.add_peers();
    if (p.member) v->set_member(KeyToText(*p.member));
    v->set_name(p.name);
    v->set_address(p.address);
    v->set_state(p.state);
    if (p.last_seen_ms != 0) SetTimestamp(p.last_seen_ms, v->mutable_last_seen());
    v->set_records_in(static_cast<uint32_t>(p.records_in));
    v->set_records_out(static_cast<uint32_t>(p.records_out));
    v->set_outbound(p.outbound);
    if (p.banned_until_ms != 0) SetTimestamp(p.banned_until_ms, v->mutable_banned_until());
    v->set_last_error(p.last_error);
    v->set_bytes_in(p.bytes_in);
    v->set_bytes_out(p.bytes_out);
    v->set_frames_in(p.frames_in);
    v->set_frames_out(p.frames_out);
    if (p.node_key) v->set_node_key(KeyToText(*p.node_key));
  }
  return out;
}

}  // namespace hashmesh
