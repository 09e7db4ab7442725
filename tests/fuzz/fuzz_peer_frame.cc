// Fuzzes what a peer's bytes reach before any store or pipeline is involved: the frame decoder
// (4-byte length, 4 MiB limit) fed in reads of varying sizes, PeerMessage parsing, and the checks
// PeerSession applies to each message kind (Hello's manifest, 32-byte keys in Heads and Want,
// records in Records and Equivocation). Input: byte 0 sets the read size, the rest is the stream.
// Seeds: fuzz_make_seeds. The session's reactions that need a store and a live connection are
// covered by sync_test (in-memory links) and the hostile-peer integration tests (docs/fuzzing.md).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/hex.h"
#include "common/manifest.h"
#include "common/record.h"
#include "daemon/net/frame_decoder.h"
#include "daemon/net/peer_transport.h"
#include "proto/wire.pb.h"

namespace {

using namespace hashmesh;

void HandleMessage(const std::string& frame) {
  pb::PeerMessage message;
  if (!message.ParseFromString(frame)) return;
  switch (message.msg_case()) {
    case pb::PeerMessage::kHello:
      (void)VerifySignedManifest(message.hello().manifest());
      break;
    case pb::PeerMessage::kHeads:
      for (const auto& h : message.heads().heads()) (void)Bytes32(h.author(), "Heads author");
      break;
    case pb::PeerMessage::kWant:
      (void)Bytes32(message.want().author(), "Want author");
      break;
    case pb::PeerMessage::kRecords:
      for (const auto& r : message.records().records()) {
        if (auto parsed = ParseRecord(r); parsed.ok()) (void)parsed->DebugString();
      }
      break;
    case pb::PeerMessage::kEquivocation:
      (void)ParseRecord(message.equivocation().first());
      (void)ParseRecord(message.equivocation().second());
      break;
    case pb::PeerMessage::kManifests:
      for (const auto& m : message.manifests().manifests()) (void)VerifySignedManifest(m);
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool crypto_ready = InitCrypto();
  if (!crypto_ready || size == 0) return 0;
  const size_t piece = data[0] == 0 ? size : data[0];
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);

  FrameDecoder decoder(PeerTransportOptions{}.max_frame_bytes);
  std::string reencoded;  // the frames delivered, with their headers: must prefix the stream
  size_t consumed = 0;
  while (consumed < stream.size()) {
    std::string_view read = stream.substr(consumed, piece);
    while (true) {
      std::optional<std::string> frame;
      auto used = decoder.Consume(read, &frame);
      if (!used.ok()) return 0;  // the connection would close here
      if (*used > read.size()) __builtin_trap();
      read.remove_prefix(*used);
      consumed += *used;
      if (!frame) break;
      const uint32_t n = static_cast<uint32_t>(frame->size());
      reencoded += {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                    static_cast<char>(n >> 8), static_cast<char>(n)};
      reencoded += *frame;
      HandleMessage(*frame);
    }
    if (!read.empty()) __builtin_trap();  // a read was not consumed, nor refused
  }
  if (stream.substr(0, reencoded.size()) != reencoded) __builtin_trap();
  if (decoder.mid_frame() != (reencoded.size() < stream.size())) __builtin_trap();
  return 0;
}
