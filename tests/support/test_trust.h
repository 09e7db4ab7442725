// A trust store naming test members, for tests that decide records with the acceptance rule.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "keys/trust_source.h"
#include "keys/trust_store.h"
#include "tests/support/test_member.h"

namespace hashmesh::testing {

// Each member with the given roles (platform by default).
inline TrustStore TrustFor(const std::vector<std::pair<std::string, const TestMember*>>& members,
                           std::vector<Role> roles = {Role::kPlatform}) {
  TrustStore store;
  for (const auto& [name, m] : members) {
    TrustMember t;
    t.name = name;
    t.member_key = m->id();
    t.roles = roles;
    EXPECT_TRUE(store.Add(std::move(t)).ok());
  }
  return store;
}

// A trust source whose store a test swaps, as a reload does.
class FakeTrust final : public TrustSource {
 public:
  std::shared_ptr<const TrustStore> Trust() const override {
    std::lock_guard lock(mu_);
    return trust_;
  }
  void Set(TrustStore trust) {
    std::lock_guard lock(mu_);
    trust_ = std::make_shared<const TrustStore>(std::move(trust));
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const TrustStore> trust_ = std::make_shared<const TrustStore>();
};

}  // namespace hashmesh::testing
