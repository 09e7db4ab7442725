// What GET /v1/status says of the node, and whether it is ready.
#include <algorithm>
#include <set>

#include "daemon/api/record_view.h"
#include "daemon/node_impl.h"
#include "proto/api.pb.h"
#include "proto/wire.pb.h"

namespace hashmesh {

void Node::Impl::FillStatus(api::StatusResponse* s) const {
  auto cfg = Config();
  const NodeIdentity& identity = Identity();
  s->set_version(HASHMESH_VERSION);
  s->set_node_name(identity.name);
  s->set_member_id(KeyToText(identity.member_key()));
  s->set_signing_key(KeyToText(identity.node_key.public_key()));
  s->set_manifest_seq(identity.manifest.seq);
  s->set_uptime_seconds(static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
          .count()));
  s->set_data_dir(cfg->data_dir);
  s->set_pdq_indexed(static_cast<uint32_t>(index.size()));
  s->set_own_seq(static_cast<uint32_t>(writer->own_seq()));
  bool ready = true;
  if (auto stats = store->Stats(); stats.ok()) {
    s->set_records(static_cast<uint32_t>(stats->records));
    s->set_signals(static_cast<uint32_t>(stats->signals));
    s->set_authors(static_cast<uint32_t>(stats->authors));
    s->set_map_size_mib(static_cast<uint32_t>(stats->map_size_bytes >> 20));
  } else {
    ready = false;
    s->add_not_ready_reasons("store: " + stats.status().message());
  }
  auto trust_now = Trust();
  if (auto heads = store->Heads(); heads.ok()) {
    for (const auto& h : *heads) {
      api::FeedHead* f = s->add_heads();
      f->set_author(KeyToText(h.author));
      f->set_name(MemberName(h.author, trust_now.get()));
      f->set_seq(static_cast<uint32_t>(h.seq));
      f->set_head_id(ToHex(h.id));
    }
  }
  s->set_own_feed_ready(writer->own_feed_ready());
  s->set_revoked(writer->revoked());
  if (writer->revoked()) {
    s->set_own_feed_ready(false);  // closed for good, not recovering: serving goes on
  } else if (!writer->own_feed_ready()) {
    ready = false;
    s->add_not_ready_reasons("recovering this node's own feed from its peers");
  }
  if (peers) {
    s->set_peers_connected(static_cast<uint32_t>(peers->admitted_sessions()));
    // Peers to dial are the --peer addresses and every other trusted member with an address; a
    // node that only listens is ready alone (it may be the first of its federation).
    const bool dials =
        !cfg->peers.empty() ||
        std::any_of(trust_now->members().begin(), trust_now->members().end(),
                    [&](const TrustMember& m) {
                      return !m.address.empty() && m.member_key != identity.member_key();
                    });
    if (dials && peers->admitted_sessions() == 0) {
      ready = false;
      s->add_not_ready_reasons("no peer connected");
    }
  }
  if (auto proofs = store->Equivocations(); proofs.ok()) {
    s->set_equivocations(static_cast<uint32_t>(proofs->size()));
    std::set<std::string> forked;
    for (const auto& bytes : *proofs) {
      pb::Equivocation proof;
      if (!proof.ParseFromString(bytes)) continue;
      auto r = ParseRecord(proof.first());
      if (!r.ok()) continue;
      std::string name = MemberName(r->author, trust_now.get());
      forked.insert(name.empty() ? KeyToText(r->author) : name + " " + KeyToText(r->author));
    }
    for (const auto& f : forked) s->add_forked_members(f);
  }
  s->set_ready(ready);
}

}  // namespace hashmesh
