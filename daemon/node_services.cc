#include "daemon/node_services.h"

#include "daemon/node_impl.h"
#include "daemon/peer_views.h"

namespace hashmesh {

std::shared_ptr<const TrustStore> NodeServices::Trust() const { return impl_->Trust(); }
std::shared_ptr<const QuerySettings> NodeServices::Settings() const { return impl_->Settings(); }
void NodeServices::FillStatus(api::StatusResponse* status) const { impl_->FillStatus(status); }

api::PeersResponse NodeServices::Peers() const {
  return impl_->peers ? ToPeersResponse(impl_->peers->Peers()) : api::PeersResponse();
}

void NodeServices::AddStream(std::shared_ptr<StreamChannel> channel) const {
  impl_->streams.Add(std::move(channel));
}

void NodeServices::ObserveMatch(bool ok, size_t queries, double seconds) const {
  impl_->metrics->ObserveMatch(ok, queries, seconds);
}

Result<api::ReloadResponse> NodeServices::Reload() const { return node_->Reload(); }

}  // namespace hashmesh
