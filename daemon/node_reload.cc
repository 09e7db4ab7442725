// Reload: config file, trust store and key directory, swapped in whole.
#include "common/log.h"
#include "daemon/node_impl.h"
#include "proto/api.pb.h"

namespace hashmesh {

Result<api::ReloadResponse> Node::Reload() {
  Impl& n = *impl_;
  NodeConfig config = *n.Config();
  if (!config.config_file.empty()) {
    // Re-read the file, keeping what flags set is beyond this change's scope: file values win.
    HM_ASSIGN_OR_RETURN(ConfigFile file, LoadConfigFile(config.config_file));
    NodeConfig fresh = config;
    fresh.policy = PolicyConfig{};
    HM_RETURN_IF_ERROR(ApplyConfigFile(file, &fresh));
    HM_RETURN_IF_ERROR(ValidateConfig(fresh));
    config.policy = fresh.policy;
    config.log_level = fresh.log_level;
  }
  HM_ASSIGN_OR_RETURN(TrustStore trust, LoadTrustStore(config.trust_file));
  HM_RETURN_IF_ERROR(n.ReloadKeys(config.keys_dir).WithContext("keys"));
  LogLevel level;
  ParseLogLevel(config.log_level, &level);
  SetLogLevel(level);
  api::ReloadResponse out;
  out.set_trusted_members(static_cast<uint32_t>(trust.size()));
  out.set_log_level(config.log_level);
  {
    const NodeIdentity& identity = n.Identity();
    out.set_manifest_seq(identity.manifest.seq);
    out.set_signing_key(KeyToText(identity.node_key.public_key()));
    out.set_revoked(n.writer->revoked() || !identity.revocation_bytes.empty());
  }
  {
    MutexLock lock(n.snapshot_mu);
    n.trust = std::make_shared<const TrustStore>(std::move(trust));
    n.SetConfig(std::move(config));
  }
  if (n.peers) n.peers->OnTrustChanged();
  LogNotice("reloaded").Kv("trusted_members", out.trusted_members()).Kv("log_level", out.log_level());
  return out;
}

Status Node::Impl::ReloadKeys(const std::string& keys_dir) {
  HM_ASSIGN_OR_RETURN(NodeIdentity loaded, LoadNodeIdentity(keys_dir));
  const NodeIdentity& current = Identity();
  if (loaded.member_key() != current.member_key()) {
    return FailedPrecondition("the key directory now holds member " +
                              KeyToText(loaded.member_key()) + ", this node runs as " +
                              KeyToText(current.member_key()) + "; restart to change member");
  }
  if (loaded.manifest.seq < current.manifest.seq) {
    return FailedPrecondition("the key directory holds manifest seq " +
                              std::to_string(loaded.manifest.seq) + ", older than seq " +
                              std::to_string(current.manifest.seq) + " in use");
  }
  const bool rotated = loaded.manifest.seq > current.manifest.seq;
  const bool revoked = !loaded.revocation_bytes.empty() && current.revocation_bytes.empty();
  if (!rotated && !revoked) return Status::Ok();

  const NodeIdentity* next;
  {
    MutexLock lock(snapshot_mu);
    identities.push_back(std::make_unique<NodeIdentity>(std::move(loaded)));
    next = identities.back().get();
  }
  LogNotice(rotated ? "node key rotated: publishing the new manifest"
                    : "member key revoked: publishing the revocation")
      .Kv("manifest_seq", next->manifest.seq)
      .Kv("signing_key", KeyToText(next->node_key.public_key()));
  // The manifest record first (signed by the new key), then Hello and TLS switch to it, so that
  // peers that reconnect with the new key find the manifest that certifies it in our feed.
  HM_RETURN_IF_ERROR(writer->UpdateIdentity({next->member_key(), &next->node_key,
                                             next->manifest.seq, next->manifest_bytes,
                                             next->revocation_bytes}));
  {
    MutexLock lock(snapshot_mu);
    current_identity = next;
  }
  if (rotated && peers) {
    HM_RETURN_IF_ERROR(peers->Rekey(next->node_key.seed(), next->certificate_pem));
  }
  return Status::Ok();
}

}  // namespace hashmesh
