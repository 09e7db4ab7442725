// A node for the API routes with fixed snapshots: nothing to reload, no peers, status ready,
// stream clients closed at once. For fuzz targets and benchmarks that run the routes alone.
#pragma once

#include <memory>
#include <utility>

#include "daemon/api/api_services.h"

namespace hashmesh::testing {

class FixedNode final : public QueryService, public AdminService {
 public:
  FixedNode(std::shared_ptr<const TrustStore> trust, std::shared_ptr<const QuerySettings> settings)
      : trust_(std::move(trust)), settings_(std::move(settings)) {}
  std::shared_ptr<const TrustStore> Trust() const override { return trust_; }
  std::shared_ptr<const QuerySettings> Settings() const override { return settings_; }
  void FillStatus(api::StatusResponse* s) const override { s->set_ready(true); }
  api::PeersResponse Peers() const override { return {}; }
  void AddStream(std::shared_ptr<StreamChannel> channel) const override { channel->Close(); }
  void ObserveMatch(bool, size_t, double) const override {}
  Result<api::ReloadResponse> Reload() const override { return api::ReloadResponse(); }

 private:
  std::shared_ptr<const TrustStore> trust_;
  std::shared_ptr<const QuerySettings> settings_;
};

}  // namespace hashmesh::testing
