// The node as the API routes see it (daemon/api/api_services.h): snapshots, status, peers,
// streams, match metrics and reload, read from Node::Impl.
#pragma once

#include <cstddef>
#include <memory>

#include "daemon/api/api_services.h"
#include "daemon/node.h"

namespace hashmesh {

class NodeServices final : public QueryService, public AdminService {
 public:
  NodeServices(Node::Impl* impl, Node* node) : impl_(impl), node_(node) {}
  std::shared_ptr<const TrustStore> Trust() const override;
  std::shared_ptr<const QuerySettings> Settings() const override;
  void FillStatus(api::StatusResponse* status) const override;
  api::PeersResponse Peers() const override;
  void AddStream(std::shared_ptr<StreamChannel> channel) const override;
  void ObserveMatch(bool ok, size_t queries, double seconds) const override;
  Result<api::ReloadResponse> Reload() const override;

 private:
  Node::Impl* impl_;
  Node* node_;
};

}  // namespace hashmesh
