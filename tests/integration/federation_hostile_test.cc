// Untrusted and hostile peers against a real hashmeshd: refused without a ban when they are merely
// not trusted, banned (key and address, for --ban-seconds) when they forge, ignored when they
// relay records of authors nobody trusts. The hostile side is a hand-driven PeerTransport client
// that sends whatever frames a test builds.
#include <gtest/gtest.h>

#include <optional>
#include <thread>

#include "common/hex.h"
#include "common/json.h"
#include "keys/key_dir.h"
#include "proto/api.pb.h"
#include "proto/wire.pb.h"
#include "tests/support/test_member.h"
#include "tests/support/federation.h"
#include "tests/integration/hostile_peer.h"

namespace hashmesh::testing {
namespace {

using std::chrono::seconds;

std::string PeerStates(TestNode& node) {
  auto r = node.Query("GET", "/v1/peers");
  if (!r.ok() || r->status != 200) return "<unreachable>";
  api::PeersResponse peers;
  (void)FromJson(r->body, &peers);
  std::string line;
  for (const auto& p : peers.peers()) {
    line += (line.empty() ? "" : " ") + (p.name().empty() ? std::string("?") : p.name()) + "=" +
            p.state();
  }
  return line;
}

int CountLines(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// A real node whose member is not in the victim's trust store keeps dialling it: each attempt is
// refused after Hello, none is a ban, so a trusted node on the same address still gets in.
TEST(FederationHostileTest, UntrustedNodeIsRefusedWithoutABan) {
  Federation fed({{"alice"}, {"bob"}, {"eve", "platform", /*trusted=*/false}});
  ASSERT_TRUE(fed.Start(0, {}).ok());
  ASSERT_TRUE(fed.Start(2, {0}).ok());
  ASSERT_TRUE(WaitFor([&] { return CountLines(fed.node(0).log(), "peer refused") >= 2; }))
      << fed.node(0).log();
  EXPECT_NE(fed.node(0).log().find("is not in our trust store"), std::string::npos);
  EXPECT_EQ(fed.node(0).log().find("peer banned"), std::string::npos);
  ASSERT_TRUE(fed.Start(1, {0}).ok());
  std::string detail;
  EXPECT_TRUE(WaitConverged(fed, {0, 1}, 10, &detail, "alice:1 bob:1")) << detail;
  EXPECT_EQ(PeerStates(fed.node(0)), "bob=connected");
  EXPECT_EQ(HeadsLine(fed.node(2)).find("alice"), std::string::npos) << "eve got alice's feed";
}

// Against one victim node: a Hello whose manifest certifies another key is refused (no ban);
// records of an author nobody trusts are ignored (no ban, the session lives on); a record with a
// forged signature of a trusted author gets the sender banned, key and address, so its next
// connection is cut at accept; the ban ends after --ban-seconds.
TEST(FederationHostileTest, ForgerIsBannedUntilTheBanExpires) {
  Federation fed({{"alice"}, {"bob"}, {"mallory"}});
  ASSERT_TRUE(fed.Start(0, {}, {"--ban-seconds", "3"}).ok());
  ASSERT_TRUE(fed.Start(1, {0}).ok());
  ASSERT_TRUE(PublishMany(fed.node(1), 2, 9000).ok());
  std::string detail;
  ASSERT_TRUE(WaitConverged(fed, {0, 1}, 10, &detail, "alice:1 bob:3")) << detail;
  ASSERT_EQ(fed.node(1).Stop(), 0)
      << fed.node(1).log();  // from here on, alice's only peer is mallory

  HostilePeer mallory(fed.keys_dir(2));
  // Bob's manifest certifies bob's node key, not the key mallory's TLS certificate is over.
  auto bob_manifest = ReadSmallFile(fed.keys_dir(1) + "/manifest.bin", 1 << 16);
  ASSERT_TRUE(bob_manifest.ok());
  ASSERT_TRUE(mallory.Connect(fed.address(0)).ok());
  mallory.SendHello(*bob_manifest);
  ASSERT_TRUE(mallory.WaitClosed().has_value());
  EXPECT_NE(fed.node(0).log().find("Hello manifest does not certify"), std::string::npos);
  EXPECT_EQ(fed.node(0).log().find("peer banned"), std::string::npos);

  // With her own manifest she is admitted: alice sends her Heads.
  ASSERT_TRUE(mallory.Connect(fed.address(0)).ok());
  mallory.SendHello();
  pb::PeerMessage heads;
  ASSERT_TRUE(mallory.Receive(pb::PeerMessage::kHeads, &heads)) << fed.node(0).log();
  EXPECT_EQ(heads.heads().heads_size(), 2);  // alice's and bob's feeds

  // Records of a member alice does not trust, validly signed: ignored, not misbehaviour.
  TestMember stranger;
  mallory.SendRecords({stranger.AppendManifest(), stranger.AppendSignal(RandomPdqHex(9100))});
  EXPECT_TRUE(mallory.Alive());
  EXPECT_EQ(HeadsLine(fed.node(0)), "alice:1 bob:3");

  // Bob's next record, signed by a key that is not bob's: a forgery.
  auto feeds = fed.node(0).Query("GET", "/v1/feeds");
  ASSERT_TRUE(feeds.ok());
  api::FeedsResponse parsed;
  ASSERT_TRUE(FromJson(feeds->body, &parsed).ok());
  std::optional<RecordId> bob_head;
  for (const auto& f : parsed.feeds()) {
    if (f.name() == "bob") bob_head = *FromHexFixed<32>(f.head_id(), "head id");
  }
  ASSERT_TRUE(bob_head.has_value());
  auto bob_key = KeyFromText(fed.member_id(1));
  ASSERT_TRUE(bob_key.ok());
  pb::RecordBody body;
  body.mutable_signal()->set_type(pb::SIGNAL_TYPE_PDQ);
  body.mutable_signal()->set_value(RandomPdqHex(9200));
  body.mutable_signal()->add_labels("test/forged");
  auto forged = BuildRecord(body, SecretKey::Generate(), *bob_key, 4, bob_head,
                            /*manifest_seq=*/1, NowMs());
  ASSERT_TRUE(forged.ok()) << forged.status().ToString();
  mallory.SendRecords({*forged});
  ASSERT_TRUE(mallory.WaitClosed().has_value()) << "the forger was not disconnected\n"
                                                << fed.node(0).log();
  EXPECT_NE(fed.node(0).log().find("peer banned"), std::string::npos);
  EXPECT_EQ(HeadsLine(fed.node(0)), "alice:1 bob:3");
  EXPECT_NE(PeerStates(fed.node(0)).find("banned"), std::string::npos) << PeerStates(fed.node(0));
  const auto banned_at = std::chrono::steady_clock::now();

  // Banned by address: the next connection is closed at accept, before any TLS.
  Status again = mallory.Connect(fed.address(0));
  EXPECT_FALSE(again.ok()) << "a banned address got a TLS session";
  // After the ban, she is admitted again.
  std::this_thread::sleep_until(banned_at + seconds(3) + std::chrono::milliseconds(300));
  ASSERT_TRUE(mallory.Connect(fed.address(0)).ok()) << fed.node(0).log();
  mallory.SendHello();
  EXPECT_TRUE(mallory.Receive(pb::PeerMessage::kHeads)) << fed.node(0).log();
  EXPECT_TRUE(mallory.Alive());
}

// A record that cannot be checked yet (ahead of a gap) is held; once the gap fills it turns out
// to be a forgery and is rejected, while the author's real record at that seq arrives from an
// honest peer. The feed must go on at once, not wait for the next anti-entropy round (30 s).
TEST(FederationHostileTest, ForgeryHeldAheadOfAGapDoesNotStallTheFeed) {
  Federation fed({{"alice"}, {"bob"}, {"mallory"}});
  ASSERT_TRUE(fed.Start(0, {}).ok());
  ASSERT_TRUE(fed.Start(1, {0}).ok());
  ASSERT_TRUE(PublishMany(fed.node(1), 2, 9500).ok());
  std::string detail;
  ASSERT_TRUE(WaitConverged(fed, {0, 1}, 10, &detail, "alice:1 bob:3")) << detail;

  HostilePeer mallory(fed.keys_dir(2));
  ASSERT_TRUE(mallory.Connect(fed.address(0)).ok());
  mallory.SendHello();
  ASSERT_TRUE(mallory.Receive(pb::PeerMessage::kHeads));
  auto bob_key = KeyFromText(fed.member_id(1));
  ASSERT_TRUE(bob_key.ok());
  pb::RecordBody body;
  body.mutable_signal()->set_type(pb::SIGNAL_TYPE_PDQ);
  body.mutable_signal()->set_value(RandomPdqHex(9600));
  RecordId prev{};
  prev[0] = 1;
  auto forged =
      BuildRecord(body, SecretKey::Generate(), *bob_key, 5, prev, /*manifest_seq=*/1, NowMs());
  ASSERT_TRUE(forged.ok());
  mallory.SendRecords({*forged});
  EXPECT_TRUE(mallory.Alive());  // it was taken: held, bob's seq 4 is missing

  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(PublishSignal(fed.node(1), RandomPdqHex(9700 + i)).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(WaitConverged(fed, {0, 1}, 5, &detail, "alice:1 bob:7")) << detail;
}

// An honest peer streams a catch-up (Want answers) while it pushes what it commits meanwhile, so
// records far ahead of our head arrive before the gap is filled, in numbers. Held records must
// not count as "in flight" for back-pressure: the session would pause reading for ever, with the
// records that fill the gap unread behind it.
TEST(FederationHostileTest, ManyRecordsAheadOfAGapDoNotStallTheSession) {
  Federation fed({{"alice"}, {"mallory"}});
  ASSERT_TRUE(fed.Start(0, {}).ok());
  HostilePeer mallory(fed.keys_dir(1));
  constexpr int kRecords = 4400;  // more than a session keeps in flight (4096)
  const std::vector<ParsedRecord> feed =
      SignedFeed(fed.keys_dir(1), fed.member_id(1), mallory.manifest(), kRecords);
  ASSERT_EQ(feed.size(), size_t{kRecords});
  ASSERT_TRUE(mallory.Connect(fed.address(0)).ok());
  mallory.SendHello();
  ASSERT_TRUE(mallory.Receive(pb::PeerMessage::kHeads));
  // Everything but the first two, in frames of 400; then the two that fill the gap.
  for (int from = 2; from < kRecords; from += 400) {
    const int to = std::min(kRecords, from + 400);
    mallory.SendRecords({feed.begin() + from, feed.begin() + to});
  }
  mallory.SendRecords({feed.begin(), feed.begin() + 2});
  std::string detail;
  EXPECT_TRUE(WaitConverged(fed, {0}, 15, &detail, "alice:1 mallory:" + std::to_string(kRecords)))
      << detail;
  EXPECT_TRUE(mallory.Alive());
}

// Frames that are not what the protocol allows, from an admitted peer: bytes that are not a
// PeerMessage, and a PeerMessage with no message in it. Each closes that session and bans the
// sender; the node's other sessions carry on.
TEST(FederationHostileTest, MalformedFramesAreMisbehaviourAndOtherSessionsCarryOn) {
  Federation fed({{"alice"}, {"bob"}, {"mallory"}});
  ASSERT_TRUE(fed.Start(0, {}, {"--ban-seconds", "1"}).ok());
  ASSERT_TRUE(fed.Start(1, {0}).ok());
  std::string detail;
  ASSERT_TRUE(WaitConverged(fed, {0, 1}, 10, &detail, "alice:1 bob:1")) << detail;

  HostilePeer mallory(fed.keys_dir(2));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\xff\xff\xff\xff garbage", "frame is not a PeerMessage"},
      {"", "empty or unknown message kind"},
  };
  for (const auto& [frame, reason] : cases) {
    const std::string& why = reason;  // clang 14 cannot capture a structured binding in a lambda
    // The previous case's ban (1 s) must be over before she gets in again.
    ASSERT_TRUE(WaitFor([&] { return mallory.Connect(fed.address(0)).ok(); }, 5));
    mallory.SendHello();
    ASSERT_TRUE(mallory.Receive(pb::PeerMessage::kHeads)) << fed.node(0).log();
    mallory.SendRaw(frame);
    EXPECT_TRUE(mallory.WaitClosed().has_value()) << why;
    EXPECT_TRUE(WaitFor([&] { return fed.node(0).log().find(why) != std::string::npos; }, 5))
        << why;
  }
  EXPECT_EQ(CountLines(fed.node(0).log(), "peer banned"), 2);
  // Bob's session was never touched: his next record still reaches alice.
  ASSERT_TRUE(PublishMany(fed.node(1), 1, 9900).ok());
  EXPECT_TRUE(WaitConverged(fed, {0, 1}, 10, &detail, "alice:1 bob:2")) << detail;
  EXPECT_NE(PeerStates(fed.node(0)).find("bob=connected"), std::string::npos)
      << PeerStates(fed.node(0));
}

// A feed longer than several Want chunks, served only on request, as a peer that holds it
// answers a node that has none of it: the node asks chunk after chunk until it has all.
TEST(FederationHostileTest, LongFeedIsFetchedChunkByChunk) {
  Federation fed({{"alice"}, {"mallory"}});
  ASSERT_TRUE(fed.Start(0, {}).ok());
  HostilePeer mallory(fed.keys_dir(1));
  constexpr int kRecords = 5000;  // 2.5 Want chunks
  const std::vector<ParsedRecord> feed =
      SignedFeed(fed.keys_dir(1), fed.member_id(1), mallory.manifest(), kRecords);
  ASSERT_EQ(feed.size(), size_t{kRecords});
  ASSERT_TRUE(mallory.Connect(fed.address(0)).ok());
  mallory.SendHello();
  ASSERT_TRUE(mallory.Receive(pb::PeerMessage::kHeads));
  // Our Heads: mallory's feed is this long.
  pb::PeerMessage ours;
  pb::Head* head = ours.mutable_heads()->add_heads();
  head->set_author(std::string(AsStringView(feed.back().author)));
  head->set_seq(kRecords);
  head->set_id(std::string(AsStringView(feed.back().id)));
  mallory.Send(ours);
  int wants = 0;
  pb::PeerMessage want;
  const auto deadline = std::chrono::steady_clock::now() + seconds(15);
  while (FeedSeq(fed.node(0), fed.member_id(1)) < kRecords &&
         std::chrono::steady_clock::now() < deadline) {
    if (!mallory.Receive(pb::PeerMessage::kWant, &want, std::chrono::milliseconds(100))) continue;
    ++wants;
    ASSERT_GE(want.want().from(), 1u);
    ASSERT_LE(want.want().to(), uint64_t{kRecords});
    mallory.SendRecords({feed.begin() + (want.want().from() - 1), feed.begin() + want.want().to()});
  }
  std::string detail;
  EXPECT_TRUE(WaitConverged(fed, {0}, 10, &detail, "alice:1 mallory:" + std::to_string(kRecords)))
      << detail;
  EXPECT_GE(wants, 3);
  EXPECT_LE(wants, 4) << "chunks asked twice";
}

}  // namespace
}  // namespace hashmesh::testing
