// Signature agreement: our Ed25519 verification gives Wycheproof's expected answer on every
// vector (non-canonical S, small-order keys, malleability, truncation...), so two nodes can
// never disagree about which records are valid.
#include <gtest/gtest.h>
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <sstream>

#include "common/crypto.h"
#include "common/hex.h"
#include "wycheproof.pb.h"

namespace hashmesh {
namespace {

TEST(Ed25519VectorsTest, AgreesWithWycheproof) {
  ASSERT_TRUE(InitCrypto());
  std::ifstream in(std::string(HASHMESH_TESTDATA) + "/ed25519/wycheproof_ed25519_test.json");
  ASSERT_TRUE(in) << "missing Wycheproof vectors under " << HASHMESH_TESTDATA;
  std::stringstream text;
  text << in.rdbuf();
  test::WycheproofFile file;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text.str(), &file, options).ok());
  int checked = 0;
  std::string disagreements;
  for (const auto& group : file.testgroups()) {
    auto key = FromHex(group.publickey().pk());
    ASSERT_TRUE(key.ok());
    for (const auto& t : group.tests()) {
      auto msg = FromHex(t.msg());
      auto sig = FromHex(t.sig());
      // Vectors with signatures that are not even hex are invalid by construction.
      bool ours = msg.ok() && sig.ok() && VerifyEd25519(*key, *msg, *sig);
      bool expected = t.result() == "valid";
      if (ours != expected) {
        disagreements += "tcId " + std::to_string(t.tcid()) + " (" + t.comment() + ") ";
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, file.numberoftests());
  EXPECT_GE(checked, 150) << "the vector file has 150 cases (88 valid, 62 invalid)";
  EXPECT_EQ(disagreements, "");
}

}  // namespace
}  // namespace hashmesh
