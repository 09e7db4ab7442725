// The node's federation: whether it has peers, the peer manager over the node's sync context,
// and own-feed recovery (an empty own feed is taken back from peers before anything is signed).
#include <algorithm>

#include "common/log.h"
#include "daemon/node_impl.h"

namespace hashmesh {

Result<FederationPlan> Node::Impl::PlanFederation(const NodeConfig& config) const {
  const PublicKey& member = Identity().member_key();
  HM_ASSIGN_OR_RETURN(auto own_head, store->Head(member));
  auto trust_now = Trust();
  const bool trust_names_peers =
      std::any_of(trust_now->members().begin(), trust_now->members().end(),
                  [&](const TrustMember& m) {
                    return !m.address.empty() && m.member_key != member;
                  });
  FederationPlan plan;
  plan.federated = !config.listen.empty() || !config.peers.empty() || trust_names_peers;
  plan.recover =
      plan.federated && !own_head.has_value() && (!config.peers.empty() || trust_names_peers);
  return plan;
}

void Node::Impl::MakePeers(const NodeConfig& config) {
  const NodeIdentity& identity = Identity();
  SyncContext sync;
  sync.feeds = feeds.get();
  sync.pipeline = pipeline.get();
  sync.trust = this;
  sync.identity = this;
  sync.member = identity.member_key();
  sync.node_name = identity.name;
  PeerManagerOptions popts;
  popts.listen = config.listen;
  popts.peers = config.peers;
  popts.ban_duration = std::chrono::seconds(config.ban_seconds);
  popts.heads_interval = std::chrono::seconds(config.heads_interval_seconds);
  peers = std::make_unique<PeerManager>(std::move(sync), popts, identity.node_key.seed(),
                                        identity.certificate_pem);
}

Status Node::Impl::StartPeers(bool recover) {
  HM_RETURN_IF_ERROR(peers->Start().WithContext("peers"));
  if (!recover) return Status::Ok();
  LogNotice("own feed is empty: recovering it from peers before publishing");
  Writer* w = writer.get();
  peers->WhenOwnFeedRecovered([w] {
    Status s = w->PublishOwnManifest();
    if (s.ok()) {
      LogNotice("own feed recovered from peers; publishing is open").Kv("own_seq", w->own_seq());
    } else {
      LogError("cannot publish own manifest").Kv("error", s.message());
    }
  });
  return Status::Ok();
}

}  // namespace hashmesh
