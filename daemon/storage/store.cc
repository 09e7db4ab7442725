// LMDB-backed store: schema, key encodings, reads, and batched durable writes.
#include "daemon/storage/store.h"

#include <lmdb.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>

#include "common/crypto.h"
#include "common/log.h"
#include "proto/records.pb.h"

namespace hashmesh {

struct Store::Dbis {
  MDB_dbi records, ids, heads, signals, refs, manifests, equivocations, meta;
};

namespace {

constexpr size_t kInlineSignalValueMax = 400;

Status LmdbError(int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + mdb_strerror(rc);
  if (rc == MDB_MAP_FULL) return ResourceExhausted(msg);
  if (rc == MDB_READERS_FULL) return ResourceExhausted(msg);
  if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID) return Corruption(msg);
  return IoError(msg);
}

MDB_val Val(std::string_view s) { return {s.size(), const_cast<char*>(s.data())}; }
std::string_view View(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint64_t GetBigEndian(std::string_view s) {
  uint64_t v = 0;
  for (unsigned char c : s) v = v << 8 | c;
  return v;
}

std::string AuthorPrefix(const PublicKey& author) { return std::string(AsStringView(author)); }

std::string HeadValue(uint64_t seq, const RecordId& id) {
  std::string v;
  PutBigEndian(&v, seq, 8);
  v += AsStringView(id);
  return v;
}

Result<FeedHeadInfo> ParseHead(std::string_view key, std::string_view value) {
  if (key.size() != 32 || value.size() != 40) return Corruption("malformed heads entry");
  FeedHeadInfo h;
  std::memcpy(h.author.data(), key.data(), 32);
  h.seq = GetBigEndian(value.substr(0, 8));
  std::memcpy(h.id.data(), value.data() + 8, 32);
  return h;
}

// Collects all duplicate values of `key` in a dupsort database.
Result<std::vector<RecordLocation>> GetDups(MDB_txn* txn, MDB_dbi dbi, std::string_view key) {
  std::vector<RecordLocation> out;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cursor);
  if (rc != 0) return LmdbError(rc, "cursor");
  MDB_val k = Val(key), v;
  rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_KEY);
  while (rc == 0) {
    auto loc = ParseLocationKey(View(v));
    if (!loc.ok()) {
      mdb_cursor_close(cursor);
      return loc.status();
    }
    out.push_back(*loc);
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT_DUP);
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) return LmdbError(rc, "cursor");
  return out;
}

Result<std::optional<std::string>> GetValue(MDB_txn* txn, MDB_dbi dbi, std::string_view key) {
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>();
  if (rc != 0) return LmdbError(rc, "get");
  return std::optional<std::string>(std::string(View(v)));
}

// `map_full`, when given, is set if the put failed because the map is full: the caller's
// transaction may then be redone in a larger map.
Status PutValue(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value,
                unsigned flags = 0, bool* map_full = nullptr) {
  MDB_val k = Val(key), v = Val(value);
  int rc = mdb_put(txn, dbi, &k, &v, flags);
  if (rc == MDB_KEYEXIST) return AlreadyExists("key exists");
  if (rc == MDB_MAP_FULL && map_full != nullptr) *map_full = true;
  if (rc != 0) return LmdbError(rc, "put");
  return Status::Ok();
}

// Frees the reader slots of processes that died inside a read transaction (a killed hashmeshd,
// mdb_dump or backup tool): LMDB only notices them when asked, and they fill the table.
int ClearStaleReaders(MDB_env* env) {
  int dead = 0;
  mdb_reader_check(env, &dead);
  if (dead > 0) LogNotice("cleared stale LMDB readers").Kv("count", dead);
  return dead;
}

}  // namespace

// A read transaction that also holds the resize lock shared for its life.
class Store::ReadTxn {
 public:
  explicit ReadTxn(const Store* store) : lock_(store->resize_mu_) {
    MDB_env* env = static_cast<MDB_env*>(store->env_);
    rc_ = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn_);
    if (rc_ == MDB_READERS_FULL && ClearStaleReaders(env) > 0) {
      rc_ = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn_);
    }
  }
  ~ReadTxn() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
  }
  Status status() const { return rc_ == 0 ? Status::Ok() : LmdbError(rc_, "begin read txn"); }
  MDB_txn* get() const { return txn_; }

 private:
  ReaderMutexLock lock_;
  MDB_txn* txn_ = nullptr;
  int rc_ = 0;
};

std::string LocationKey(const RecordLocation& loc) {
  std::string key = AuthorPrefix(loc.author);
  PutBigEndian(&key, loc.seq, 8);
  return key;
}

Result<RecordLocation> ParseLocationKey(std::string_view key) {
  if (key.size() != 40) return Corruption("malformed record location");
  RecordLocation loc;
  std::memcpy(loc.author.data(), key.data(), 32);
  loc.seq = GetBigEndian(key.substr(32));
  return loc;
}

std::string SignalKey(SignalKind kind, std::string_view canonical_value) {
  std::string key(1, static_cast<char>(kind));
  if (kind == SignalKind::kPdq || kind == SignalKind::kMd5 || kind == SignalKind::kSha256) {
    auto raw = FromHex(canonical_value);
    if (raw.ok()) {
      key += AsStringView(*raw);
      return key;
    }
  }
  if (canonical_value.size() <= kInlineSignalValueMax) {
    key += canonical_value;
  } else {
    key += '\xff';
    key += AsStringView(Sha256(AsBytes(canonical_value)));
  }
  return key;
}

// Indexes the fingerprints `body` carries (a signal's, a notice's inline ones) under
// type|value -> its location.
Status PutFingerprints(MDB_txn* txn, MDB_dbi signals, const pb::RecordBody& body,
                       std::string_view loc_key, bool* map_full = nullptr) {
  for (const pb::Signal* s : Fingerprints(body)) {
    HM_RETURN_IF_ERROR(PutValue(txn, signals,
                                SignalKey(static_cast<SignalKind>(s->type()), s->value()), loc_key,
                                0, map_full));
  }
  return Status::Ok();
}

// Schema 1 did not index the fingerprints inside notices: index those of every stored notice.
Status MigrateFrom1(MDB_txn* txn, MDB_dbi records, MDB_dbi signals) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, records, &cursor);
  if (rc != 0) return LmdbError(rc, "cursor");
  MDB_val k, v;
  Status status;
  size_t notices = 0;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    pb::SignedRecord signed_record;
    pb::RecordBody body;
    if (!signed_record.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size)) ||
        !body.ParseFromString(signed_record.body())) {
      status = Corruption("stored record is corrupt");
      break;
    }
    if (!body.has_notice()) continue;
    ++notices;
    status = PutFingerprints(txn, signals, body, View(k));
    if (!status.ok()) break;
  }
  mdb_cursor_close(cursor);
  HM_RETURN_IF_ERROR(status);
  if (rc != MDB_NOTFOUND) return LmdbError(rc, "cursor");
  LogNotice("store upgraded to schema 2: fingerprints inside notices indexed")
      .Kv("notices", static_cast<uint64_t>(notices));
  return Status::Ok();
}

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return IoError("cannot create data directory " + options.dir + ": " + ec.message());
  std::unique_ptr<Store> store(new Store());
  store->dir_ = options.dir;
  store->dbis_ = std::make_unique<Dbis>();
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return LmdbError(rc, "mdb_env_create");
  store->env_ = env;
  mdb_env_set_maxdbs(env, 16);
  mdb_env_set_maxreaders(env, options.max_readers);
  // An existing environment opens with the size its map last grew to: a size set before the open
  // would win over it (down to the data's size), and every restart would start from a full map.
  if (!std::filesystem::exists(options.dir + "/data.mdb", ec)) {
    mdb_env_set_mapsize(env, options.initial_map_bytes);
  }
  rc = mdb_env_open(env, options.dir.c_str(), MDB_NOTLS, 0600);
  if (rc != 0) return LmdbError(rc, "cannot open LMDB environment in " + options.dir);
  ClearStaleReaders(env);
  MDB_envinfo info;
  mdb_env_info(env, &info);
  if (info.me_mapsize < options.initial_map_bytes) {
    rc = mdb_env_set_mapsize(env, options.initial_map_bytes);
    if (rc != 0) return LmdbError(rc, "set map size");
    mdb_env_info(env, &info);
  }
  store->map_size_ = info.me_mapsize;

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc != 0) return LmdbError(rc, "begin");
  struct Spec {
    const char* name;
    unsigned flags;
    MDB_dbi* dbi;
  } specs[] = {
      {"records", 0, &store->dbis_->records},
      {"ids", 0, &store->dbis_->ids},
      {"heads", 0, &store->dbis_->heads},
      {"signals", MDB_DUPSORT, &store->dbis_->signals},
      {"refs", MDB_DUPSORT, &store->dbis_->refs},
      {"manifests", 0, &store->dbis_->manifests},
      {"equivocations", 0, &store->dbis_->equivocations},
      {"meta", 0, &store->dbis_->meta},
  };
  for (const auto& spec : specs) {
    rc = mdb_dbi_open(txn, spec.name, spec.flags | MDB_CREATE, spec.dbi);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return LmdbError(rc, std::string("open database ") + spec.name);
    }
  }
  auto version = GetValue(txn, store->dbis_->meta, "schema_version");
  if (!version.ok()) {
    mdb_txn_abort(txn);
    return version.status();
  }
  const std::string want = std::to_string(kSchemaVersion);
  if (!version->has_value()) {
    Status s = PutValue(txn, store->dbis_->meta, "schema_version", want);
    if (!s.ok()) {
      mdb_txn_abort(txn);
      return s;
    }
  } else if (**version == "1") {
    Status s = MigrateFrom1(txn, store->dbis_->records, store->dbis_->signals);
    if (s.ok()) s = PutValue(txn, store->dbis_->meta, "schema_version", want);
    if (!s.ok()) {
      mdb_txn_abort(txn);
      return s;
    }
  } else if (**version != want) {
    mdb_txn_abort(txn);
    return FailedPrecondition("data directory " + options.dir + " has schema version " +
                              **version + "; this hashmeshd uses version " + want);
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbError(rc, "commit");
  return store;
}

Store::~Store() {
  if (env_ != nullptr) mdb_env_close(static_cast<MDB_env*>(env_));
}

Status Store::Write(const std::function<Status(StoreBatch&)>& fn) {
  MDB_env* env = static_cast<MDB_env*>(env_);
  for (int attempt = 0; attempt < 32; ++attempt) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env, nullptr, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
      mdb_env_set_mapsize(env, 0);
      continue;
    }
    if (rc != 0) return LmdbError(rc, "begin write txn");
    StoreBatch batch(this, txn);
    Status s = fn(batch);
    if (s.ok()) {
      rc = mdb_txn_commit(txn);  // frees txn whatever the outcome
      if (rc == 0) {
        // Slots of readers that died (killed tools, a killed daemon) are also freed once a
        // minute while writes go on, not only when the table is full.
        const auto now = std::chrono::steady_clock::now();
        if (now - last_reader_check_ >= std::chrono::minutes(1)) {
          last_reader_check_ = now;
          ClearStaleReaders(env);
        }
        return Status::Ok();
      }
      if (rc != MDB_MAP_FULL) return LmdbError(rc, "commit");
    } else {
      mdb_txn_abort(txn);
      if (!batch.map_full()) return s;
    }
    // The map is full: grow it while no reader of ours holds a transaction, then redo the batch.
    WriterMutexLock lock(resize_mu_);
    uint64_t new_size = map_size_ * 2;
    rc = mdb_env_set_mapsize(env, new_size);
    if (rc != 0) return LmdbError(rc, "grow map");
    map_size_ = new_size;
    LogNotice("LMDB map grown").Kv("bytes", new_size);
  }
  return ResourceExhausted("write did not fit after growing the map repeatedly");
}

Status StoreBatch::PutRecord(const ParsedRecord& record) {
  MDB_txn* txn = static_cast<MDB_txn*>(txn_);
  const Store::Dbis& db = *store_->dbis_;
  RecordLocation loc{record.author, record.seq()};
  const std::string loc_key = LocationKey(loc);
  bool* full = &map_full_;
  HM_RETURN_IF_ERROR(PutValue(txn, db.records, loc_key, record.signed_record.SerializeAsString(),
                              MDB_NOOVERWRITE, full));
  HM_RETURN_IF_ERROR(PutValue(txn, db.ids, AsStringView(record.id), loc_key, 0, full));
  HM_RETURN_IF_ERROR(PutValue(txn, db.heads, AsStringView(record.author),
                              HeadValue(record.seq(), record.id), 0, full));
  const pb::RecordBody& body = record.body;
  auto put_ref = [&](const std::string& target) {
    return PutValue(txn, db.refs, target, loc_key, 0, full);
  };
  HM_RETURN_IF_ERROR(PutFingerprints(txn, db.signals, body, loc_key, full));
  switch (record.kind) {
    case RecordKind::kSignal: break;
    case RecordKind::kNotice:
      for (const auto& target : body.notice().targets()) {
        if (!target.has_signal()) HM_RETURN_IF_ERROR(put_ref(target.record_id()));
      }
      break;
    case RecordKind::kOpinion: HM_RETURN_IF_ERROR(put_ref(body.opinion().target())); break;
    case RecordKind::kRetraction: HM_RETURN_IF_ERROR(put_ref(body.retraction().target())); break;
    case RecordKind::kManifest: {
      pb::ManifestBody manifest;
      manifest.ParseFromString(body.manifest().body());
      std::string key = AuthorPrefix(record.author);
      PutBigEndian(&key, manifest.seq(), 4);
      HM_RETURN_IF_ERROR(
          PutValue(txn, db.manifests, key, body.manifest().SerializeAsString(), 0, full));
      break;
    }
  }
  return Status::Ok();
}

Status StoreBatch::PutEquivocation(const PublicKey& author, uint64_t seq,
                                   const std::string& proof) {
  Status s = PutValue(static_cast<MDB_txn*>(txn_), store_->dbis_->equivocations,
                      LocationKey({author, seq}), proof, MDB_NOOVERWRITE, &map_full_);
  if (s.code() == StatusCode::kAlreadyExists) return Status::Ok();
  return s;
}

Result<std::optional<FeedHeadInfo>> StoreBatch::Head(const PublicKey& author) {
  HM_ASSIGN_OR_RETURN(auto value, GetValue(static_cast<MDB_txn*>(txn_), store_->dbis_->heads,
                                           AsStringView(author)));
  if (!value) return std::optional<FeedHeadInfo>();
  HM_ASSIGN_OR_RETURN(auto head, ParseHead(AsStringView(author), *value));
  return std::optional<FeedHeadInfo>(head);
}

Result<bool> StoreBatch::HasId(const RecordId& id) {
  HM_ASSIGN_OR_RETURN(auto value,
                      GetValue(static_cast<MDB_txn*>(txn_), store_->dbis_->ids, AsStringView(id)));
  return value.has_value();
}

Result<std::optional<RecordLocation>> StoreBatch::LocateId(const RecordId& id) {
  HM_ASSIGN_OR_RETURN(auto value,
                      GetValue(static_cast<MDB_txn*>(txn_), store_->dbis_->ids, AsStringView(id)));
  if (!value) return std::optional<RecordLocation>();
  HM_ASSIGN_OR_RETURN(auto loc, ParseLocationKey(*value));
  return std::optional<RecordLocation>(loc);
}

Result<std::optional<std::string>> StoreBatch::GetRecord(const RecordLocation& loc) {
  return GetValue(static_cast<MDB_txn*>(txn_), store_->dbis_->records, LocationKey(loc));
}

Result<std::optional<uint64_t>> Store::ForkSeq(const PublicKey& author) const {
  ReadTxn txn(this);
  HM_RETURN_IF_ERROR(txn.status());
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), dbis_->equivocations, &cursor);
  if (rc != 0) return LmdbError(rc, "cursor");
  std::string prefix = AuthorPrefix(author);
  MDB_val k = Val(prefix), v;
  std::optional<uint64_t> out;
  rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  if (rc == 0 && View(k).starts_with(prefix)) {
    auto loc = ParseLocationKey(View(k));
    if (loc.ok()) out = loc->seq;  // keys sort by seq within an author: the first is the lowest
  }
  mdb_cursor_close(cursor);
  return out;
}

Result<std::optional<std::string>> Store::GetRecord(const RecordLocation& loc) const {
  ReadTxn txn(this);
  HM_RETURN_IF_ERROR(txn.status());
  return GetValue(txn.get(), dbis_->records, LocationKey(loc));
}

Result<std::optional<RecordLocation>> Store::LocateId(const RecordId& id) const {
  ReadTxn txn(this);
  HM_RETURN_IF_ERROR(txn.status());
  HM_ASSIGN_OR_RETURN(auto value, GetValue(txn.get(), dbis_->ids, AsStringView(id)));
  if (!value) return std::optional<RecordLocation>();
  HM_ASSIGN_OR_RETURN(auto loc, ParseLocationKey(*value));
  return std::optional<RecordLocation>(loc);
}

Result<std::optional<FeedHeadInfo>> Store::Head(const PublicKey& author) const {
  ReadTxn txn(this);
  HM_RETURN_IF_ERROR(txn.status());
  HM_ASSIGN_OR_RETURN(auto value, GetValue(txn.get(), dbis_->heads, AsStringView(author)));
  if (!value) return std::optional<FeedHeadInfo>();
  HM_ASSIGN_OR_RETURN(auto head, ParseHead(AsStringView(author), *value));
  return std::optional<FeedHeadInfo>(head);
}

Result<std::vector<FeedHeadInfo>> Store::Heads() const {
  ReadTxn txn(this);
  HM_RETURN_IF_ERROR(txn.status());
  std::vector<FeedHeadInfo> out;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), dbis_->heads, &cursor);
  if (rc != 0) return LmdbError(rc, "cursor");
  MDB_val k, v;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    auto head = ParseHead(View(k), View(v));
    if (!head.ok()) {
      mdb_cursor_close(cursor);
      return head.status();
    }
    out.push_back(*head);
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) return LmdbError(rc, "cursor");
  return out;
}

Result<FeedState> Store::LoadFeedState(const PublicKey& author) const {
  ReadTxn txn(this);
  HM_RETURN_IF_ERROR(txn.status());
  FeedState state;
  HM_ASSIGN_OR_RETURN(auto head, GetValue(txn.get(), dbis_->heads, AsStringView(author)));
  if (head) {
    HM_ASSIGN_OR_RETURN(auto info, ParseHead(AsStringView(author), *head));
    state.head_seq = info.seq;
    state.head_id = info.id;
  }
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), dbis_->manifests, &cursor);
  if (rc != 0) return LmdbError(rc, "cursor");
  std::string prefix = AuthorPrefix(author);
  MDB_val k = Val(prefix), v;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
       rc == 0 && View(k).starts_with(prefix); rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    // Verified when its record was accepted; reading it back needs no crypto.
    pb::SignedManifest stored;
    Result<ManifestInfo> info = Corruption("stored manifest does not parse");
    if (stored.ParseFromArray(v.mv_data, static_cast<int>(v.mv_size))) {
      info = ReadVerifiedManifest(stored);
    }
    if (!info.ok()) {
      mdb_cursor_close(cursor);
      return Corruption("stored manifest is corrupt: " + info.status().message());
    }
    state.manifests[info->seq] = *info;
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "cursor");
  return state;
}

Result<std::vector<RecordLocation>> Store::FindSignals(SignalKind kind,
                                                       std::string_view value) const {
  ReadTxn txn(this);
  HM_RETURN_IF_ERROR(txn.status());
  return GetDups(txn.get(), dbis_->signals, SignalKey(kind, value));
}

Result<std::vector<RecordLocation>> Store::FindRefs(const RecordId& target) const {
  ReadTxn txn(this);
  HM_RETURN_IF_ERROR(txn.status());
  return GetDups(txn.get(), dbis_->refs, AsStringView(target));
}

Status Store::ForEachPdqSignal(
    const std::function<void(const RecordLocation&, const PdqHash&)>& fn) const {
  ReadTxn txn(this);
  HM_RETURN_IF_ERROR(txn.status());
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), dbis_->signals, &cursor);
  if (rc != 0) return LmdbError(rc, "cursor");
  const std::string prefix(1, static_cast<char>(SignalKind::kPdq));
  MDB_val k = Val(prefix), v;
  Status status;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == 0 && View(k).starts_with(prefix);
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    std::string_view key = View(k);
    auto loc = ParseLocationKey(View(v));
    if (key.size() != 33 || !loc.ok()) {
      status = Corruption("malformed PDQ signal entry");
      break;
    }
    std::array<uint8_t, 32> raw;
    std::memcpy(raw.data(), key.data() + 1, 32);
    PdqHash hash = PdqHash::FromBytes(raw);
    fn(*loc, hash);
  }
  mdb_cursor_close(cursor);
  if (!status.ok()) return status;
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "cursor");
  return Status::Ok();
}

Result<std::vector<std::string>> Store::ReadFeed(const PublicKey& author, uint64_t from,
                                                 size_t limit) const {
  ReadTxn txn(this);
  HM_RETURN_IF_ERROR(txn.status());
  std::vector<std::string> out;
  for (uint64_t seq = std::max<uint64_t>(from, 1); out.size() < limit; ++seq) {
    HM_ASSIGN_OR_RETURN(auto value, GetValue(txn.get(), dbis_->records, LocationKey({author, seq})));
    if (!value) break;
    out.push_back(std::move(*value));
  }
  return out;
}

Result<std::vector<std::string>> Store::Equivocations() const {
  ReadTxn txn(this);
  HM_RETURN_IF_ERROR(txn.status());
  std::vector<std::string> out;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), dbis_->equivocations, &cursor);
  if (rc != 0) return LmdbError(rc, "cursor");
  MDB_val k, v;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    out.emplace_back(View(v));
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) return LmdbError(rc, "cursor");
  return out;
}

Result<StoreStats> Store::Stats() const {
  ReadTxn txn(this);
  HM_RETURN_IF_ERROR(txn.status());
  StoreStats stats;
  MDB_stat st;
  if (mdb_stat(txn.get(), dbis_->records, &st) == 0) stats.records = st.ms_entries;
  if (mdb_stat(txn.get(), dbis_->signals, &st) == 0) stats.signals = st.ms_entries;
  if (mdb_stat(txn.get(), dbis_->heads, &st) == 0) stats.authors = st.ms_entries;
  if (mdb_stat(txn.get(), dbis_->equivocations, &st) == 0) stats.equivocations = st.ms_entries;
  MDB_envinfo info;
  MDB_env* env = static_cast<MDB_env*>(env_);
  mdb_env_info(env, &info);
  mdb_env_stat(env, &st);
  stats.map_size_bytes = info.me_mapsize;
  stats.used_bytes = (info.me_last_pgno + 1) * static_cast<uint64_t>(st.ms_psize);
  return stats;
}

}  // namespace hashmesh
