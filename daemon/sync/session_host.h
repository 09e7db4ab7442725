// SessionHost: what a PeerSession asks of the one that runs it (the PeerManager): admission
// against the other sessions, bans, our own feed's length at the peer, and its end.
#pragma once

#include <cstdint>
#include <string>

#include "common/crypto.h"
#include "common/status.h"

namespace hashmesh {

class PeerSession;

// Thread-safety: called on the session's strand (OnSessionClosed also on the thread that stops
// the transport). A host does not call back into the calling session under its own lock.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  // The session passed every Hello check and is about to be admitted: an error refuses it
  // (without a ban), e.g. when it duplicates a session with the same peer.
  virtual Status Admit(PeerSession* session) = 0;
  virtual bool IsBanned(const PublicKey& node_key) const = 0;
  // The peer misbehaved: ban its key and address for a while.
  virtual void Ban(const PublicKey& node_key, const std::string& address,
                   const std::string& why) = 0;
  // A peer's Heads were handled; it holds `own_seq_at_peer` of our own feed.
  virtual void OnPeerHeads(uint64_t own_seq_at_peer) = 0;
  // The session's link closed; no call from the session follows.
  virtual void OnSessionClosed(PeerSession* session) = 0;
};

}  // namespace hashmesh
