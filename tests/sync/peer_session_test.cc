// The session state machine over an in-memory link: Hello and admission, Heads, Want, records,
// ping/pong, and what closes a session or bans its peer.
#include "daemon/sync/peer_session.h"

#include <gtest/gtest.h>

#include "proto/api.pb.h"
#include "tests/sync/sync_fixture.h"

namespace hashmesh::testing {
namespace {

class PeerSessionTest : public SyncFixture {
 protected:
  // A session with alice, past Hello; what it sent is taken.
  std::shared_ptr<PeerSession> AdmittedAlice(std::shared_ptr<MemoryLink> link) {
    auto session = StartSession(link);
    EXPECT_TRUE(link->Deliver(Hello(alice_)));
    EXPECT_TRUE(session->admitted());
    link->TakeSent();
    return session;
  }
  // A session from `peer`'s node sent `hello`: "admitted", or why it closed, and " (banned)"
  // when the peer was banned for it.
  std::string HelloOutcome(const TestMember& peer, const pb::PeerMessage& hello) {
    auto link = LinkFrom(peer);
    auto session = StartSession(link);
    link->Deliver(hello);
    link->RunPending();
    std::string s = session->admitted() ? "admitted" : link->close_reason();
    return host_.Bans().empty() ? s : s + " (banned)";
  }
};

TEST_F(PeerSessionTest, SendsHelloThenHeadsOnceThePeerIsAdmitted) {
  auto link = LinkFrom(alice_);
  auto session = StartSession(link);
  EXPECT_EQ(Sent(*link), "Hello v1 node=us-node");
  EXPECT_FALSE(session->admitted());
  ASSERT_TRUE(link->Deliver(Hello(alice_)));
  EXPECT_TRUE(session->admitted());
  EXPECT_EQ(session->member(), alice_.id());
  EXPECT_EQ(Sent(*link), "Heads us#1");
  EXPECT_FALSE(link->closed());
}

TEST_F(PeerSessionTest, AnythingBeforeHelloIsMisbehaviour) {
  auto link = LinkFrom(alice_);
  auto session = StartSession(link);
  link->Deliver(Heads({}));
  link->RunPending();
  EXPECT_EQ(link->close_reason(), "permission_denied: misbehaviour: first message is not Hello");
  EXPECT_EQ(host_.Bans(), std::vector<std::string>{"first message is not Hello"});
  EXPECT_EQ(host_.closed, 1);
}

TEST_F(PeerSessionTest, FrameThatIsNotAPeerMessageIsMisbehaviour) {
  auto link = LinkFrom(alice_);
  auto session = AdmittedAlice(link);
  link->DeliverBytes("\xff\xff\xff");
  link->RunPending();
  EXPECT_EQ(host_.Bans(), std::vector<std::string>{"frame is not a PeerMessage"});
  EXPECT_TRUE(link->closed());
}

// Each Hello check refuses without a ban: trust, keys and bans may change.
TEST_F(PeerSessionTest, UntrustedMemberIsRefusedWithoutABan) {
  EXPECT_EQ(HelloOutcome(carol_, Hello(carol_)),
            "permission_denied: member " + KeyToText(carol_.id()) + " is not in our trust store");
}

TEST_F(PeerSessionTest, ManifestThatDoesNotCertifyTheTlsKeyIsRefusedWithoutABan) {
  // bob's node presents alice's manifest.
  EXPECT_EQ(HelloOutcome(bob_, Hello(alice_)),
            "permission_denied: Hello manifest does not certify the TLS certificate's key");
}

TEST_F(PeerSessionTest, WrongProtocolVersionIsRefused) {
  auto hello = Hello(alice_);
  hello.mutable_hello()->set_protocol_version(2);
  EXPECT_EQ(HelloOutcome(alice_, hello), "permission_denied: protocol version 2 is not supported");
}

TEST_F(PeerSessionTest, BannedKeyIsRefusedAndNotBannedAgain) {
  host_.banned.insert(alice_.signing_key().public_key());
  EXPECT_EQ(HelloOutcome(alice_, Hello(alice_)), "permission_denied: peer key is banned");
}

TEST_F(PeerSessionTest, HostRefusalClosesWithoutABan) {
  host_.admit = AlreadyExists("duplicate session: already connected to this peer");
  EXPECT_EQ(HelloOutcome(alice_, Hello(alice_)),
            "already_exists: duplicate session: already connected to this peer");
}

TEST_F(PeerSessionTest, ConnectionToOurselvesIsRefused) {
  EXPECT_EQ(HelloOutcome(us_, Hello(us_)), "permission_denied: connected to ourselves");
}

TEST_F(PeerSessionTest, SecondHelloIsMisbehaviour) {
  auto link = LinkFrom(alice_);
  auto session = AdmittedAlice(link);
  link->Deliver(Hello(alice_));
  link->RunPending();
  EXPECT_EQ(host_.Bans(), std::vector<std::string>{"second Hello"});
}

TEST_F(PeerSessionTest, NoHelloWithinTheTimeoutClosesWithoutABan) {
  auto link = LinkFrom(alice_);
  auto session = StartSession(link);
  session->Tick(std::chrono::steady_clock::now() + timers_.hello_timeout +
                std::chrono::seconds(1));
  link->RunPending();
  EXPECT_EQ(link->close_reason(), "unavailable: no Hello within the handshake timeout");
  EXPECT_TRUE(host_.Bans().empty());
}

TEST_F(PeerSessionTest, HeadsAskForWhatWeLackAndTellTheHostOurSeqThere) {
  GrowFeed(alice_, /*signals=*/2);
  auto link = LinkFrom(alice_);
  auto session = AdmittedAlice(link);
  link->Deliver(Heads({{&alice_, 3}, {&carol_, 0}}));
  EXPECT_EQ(Sent(*link), "Want alice 1..3");
  EXPECT_EQ(host_.own_seqs, std::vector<uint64_t>{0});
}

TEST_F(PeerSessionTest, HeadsOfAnAuthorWeDoNotTrustAreIgnored) {
  carol_.AppendManifest();
  auto link = LinkFrom(alice_);
  auto session = AdmittedAlice(link);
  link->Deliver(Heads({{&carol_, 1}}));
  EXPECT_EQ(Sent(*link), "");
}

TEST_F(PeerSessionTest, RecordsAreCommittedInOrderAndCounted) {
  GrowFeed(alice_, /*signals=*/2);
  auto link = LinkFrom(alice_);
  auto session = AdmittedAlice(link);
  // Out of order: the pipeline holds #3 until #2 is in.
  link->Deliver(Records({alice_.feed()[0], alice_.feed()[2], alice_.feed()[1]}));
  ASSERT_TRUE(RunUntil(*link, [&] {
    return session->Info().records_in == 3;
  }));
  EXPECT_EQ(Feed(alice_), Render(alice_.feed()[0]) + " | " + Render(alice_.feed()[1]) + " | " +
                              Render(alice_.feed()[2]));
  EXPECT_EQ(Feed(alice_).substr(0, 33), "alice#1 manifest | alice#2 signal");
  EXPECT_TRUE(host_.Bans().empty());
}

TEST_F(PeerSessionTest, WantIsAnsweredWithTheRecordsAsked) {
  std::promise<Result<ParsedRecord>> published;
  pb::RecordBody body;
  body.mutable_signal()->set_type(pb::SIGNAL_TYPE_PDQ);
  body.mutable_signal()->set_value(RandomPdqHex(7));
  ASSERT_TRUE(writer_->Publish(body, [&](Result<ParsedRecord> r) { published.set_value(r); }).ok());
  auto signal = published.get_future().get();
  ASSERT_TRUE(signal.ok());
  auto link = LinkFrom(alice_);
  auto session = AdmittedAlice(link);
  link->Deliver(Want(us_, 1, 2));
  EXPECT_EQ(Sent(*link), "Records us#1 manifest | " + Render(*signal));
  // Asked again beyond our head: nothing more to send.
  link->Deliver(Want(us_, 3, 5));
  EXPECT_EQ(Sent(*link), "");
}

TEST_F(PeerSessionTest, WantOfMoreThanTheLimitIsMisbehaviour) {
  auto link = LinkFrom(alice_);
  auto session = AdmittedAlice(link);
  link->Deliver(Want(us_, 1, 1 + PeerSession::kMaxWantSpan));
  link->RunPending();
  EXPECT_EQ(host_.Bans(), std::vector<std::string>{"Want range over 10000"});
  EXPECT_TRUE(link->closed());
}

TEST_F(PeerSessionTest, PingIsAnsweredWithPong) {
  auto link = LinkFrom(alice_);
  auto session = AdmittedAlice(link);
  pb::PeerMessage ping;
  ping.mutable_ping()->set_nonce(7);
  link->Deliver(ping);
  EXPECT_EQ(Sent(*link), "Pong 7");
}

TEST_F(PeerSessionTest, TickResendsHeadsAndPings) {
  auto link = LinkFrom(alice_);
  auto session = AdmittedAlice(link);
  session->Tick(std::chrono::steady_clock::now() + timers_.heads_interval);
  EXPECT_EQ(Sent(*link), "Heads us#1\nPing");
}

TEST_F(PeerSessionTest, ForgedRecordBansThePeerOnItsStrandNotOnTheWriterThread) {
  alice_.AppendManifest();
  ParsedRecord forged = alice_.AppendSignal(RandomPdqHex(3));
  std::string sig = forged.signed_record.signature();
  sig[0] ^= 1;
  forged.signed_record.set_signature(sig);
  auto link = LinkFrom(alice_);
  auto session = AdmittedAlice(link);
  const uint64_t before = WriterHandled();
  link->Deliver(Records({alice_.feed()[0], forged}));
  // The writer has judged both records, but the session hears of it only on its strand.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (WriterHandled() < before + 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(WriterHandled(), before + 2);
  EXPECT_TRUE(host_.Bans().empty());
  link->RunPending();
  ASSERT_EQ(host_.Bans().size(), 1u);
  EXPECT_TRUE(host_.Bans()[0].starts_with("sent an invalid record: ")) << host_.Bans()[0];
  EXPECT_EQ(Feed(alice_), "alice#1 manifest");
}

TEST_F(PeerSessionTest, PushSendsOnTheStrandOnlyWhatThePeerLacks) {
  auto link = LinkFrom(alice_);
  auto session = AdmittedAlice(link);
  us_.AppendManifest();
  const ParsedRecord signal = us_.AppendSignal(RandomPdqHex(4));
  auto batch = std::make_shared<const std::vector<ParsedRecord>>(us_.feed());
  session->PushRecords(batch);
  EXPECT_EQ(Sent(*link), "");  // posted, not sent from the caller's thread
  link->RunPending();
  EXPECT_EQ(Sent(*link), "Records us#1 manifest | " + Render(signal));
  session->PushRecords(batch);
  link->RunPending();
  EXPECT_EQ(Sent(*link), "");  // the peer has them now
}

TEST_F(PeerSessionTest, PushBeforeAdmissionSendsNothing) {
  auto link = LinkFrom(alice_);
  auto session = StartSession(link);
  link->TakeSent();
  us_.AppendManifest();
  session->PushRecords(std::make_shared<const std::vector<ParsedRecord>>(us_.feed()));
  link->RunPending();
  EXPECT_EQ(Sent(*link), "");
}

// A second record of alice's at a seq we hold, validly signed: a fork.
ParsedRecord ForkOf(const TestMember& author, uint64_t seq) {
  pb::RecordBody body;
  body.mutable_signal()->set_type(pb::SIGNAL_TYPE_PDQ);
  body.mutable_signal()->set_value(RandomPdqHex(999));
  return *BuildRecord(body, author.signing_key(), author.id(), seq,
                      author.feed()[seq - 2].id, author.manifest_seq(), NowMs());
}

TEST_F(PeerSessionTest, HeadsNamingAnotherRecordAtASeqWeHoldAskForItOnce) {
  GrowFeed(alice_, /*signals=*/1);
  auto link = LinkFrom(alice_);
  auto session = AdmittedAlice(link);
  link->Deliver(Records(alice_.feed()));
  ASSERT_TRUE(RunUntil(*link, [&] {
    return Feed(alice_).starts_with("alice#1 manifest | alice#2");
  }));
  link->TakeSent();
  pb::PeerMessage heads = Heads({{&alice_, 2}});
  const ParsedRecord fork = ForkOf(alice_, 2);
  heads.mutable_heads()->mutable_heads(0)->set_id(std::string(AsStringView(fork.id)));
  link->Deliver(heads);
  EXPECT_EQ(Sent(*link), "Want alice 2..2");
  // The peer sends it: the writer stores the proof, and the peer is not to blame.
  link->Deliver(Records({fork}));
  ASSERT_TRUE(RunUntil(*link, [&] { return writer_->stats().equivocations == 1; }));
  link->RunPending();
  EXPECT_TRUE(host_.Bans().empty());
  link->Deliver(heads);
  EXPECT_EQ(Sent(*link), "");  // proven: not asked again
  // A peer that connects later hears of the fork at once, after our Heads.
  auto later = LinkFrom(bob_);
  auto bob = StartSession(later);
  later->TakeSent();
  later->Deliver(Hello(bob_));
  const std::string sent = Sent(*later);
  EXPECT_TRUE(sent.starts_with("Heads ")) << sent;
  EXPECT_TRUE(sent.ends_with("\nEquivocation " + Render(alice_.feed()[1])) ||
              sent.ends_with("\nEquivocation " + Render(fork)))
      << sent;
}

TEST_F(PeerSessionTest, NewForkProofsArePushedOnTheStrand) {
  GrowFeed(alice_, /*signals=*/1);
  pb::Equivocation proof;
  *proof.mutable_first() = alice_.feed()[1].signed_record;
  *proof.mutable_second() = ForkOf(alice_, 2).signed_record;
  auto link = LinkFrom(bob_);
  auto session = StartSession(link);
  ASSERT_TRUE(link->Deliver(Hello(bob_)));
  link->TakeSent();
  session->PushEquivocation(proof.SerializeAsString());
  EXPECT_EQ(Sent(*link), "");
  link->RunPending();
  EXPECT_EQ(Sent(*link), "Equivocation " + Render(alice_.feed()[1]));
}

}  // namespace
}  // namespace hashmesh::testing
