// Test helper for crash_test: takes reader slots of a live LMDB environment and holds them until
// it is killed, as a backup or inspection tool caught mid-read would.
//
//   lmdb_reader_hold DIR COUNT   begins COUNT read transactions on DIR, prints "held N" (N may be
//                                less, with " full", when the reader table is full), then sleeps
#include <lmdb.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: lmdb_reader_hold DIR COUNT\n");
    return 2;
  }
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc == 0) rc = mdb_env_set_maxdbs(env, 16);
  // MDB_NOTLS: every read transaction takes its own slot, so one process can hold many.
  if (rc == 0) rc = mdb_env_open(env, argv[1], MDB_RDONLY | MDB_NOTLS, 0600);
  if (rc != 0) {
    std::fprintf(stderr, "cannot open %s: %s\n", argv[1], mdb_strerror(rc));
    return 1;
  }
  const int want = std::atoi(argv[2]);
  int held = 0;
  for (; held < want; ++held) {
    MDB_txn* txn = nullptr;
    rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
    if (rc != 0) break;
  }
  std::printf("held %d%s\n", held, rc == MDB_READERS_FULL ? " full" : "");
  std::fflush(stdout);
  for (;;) pause();
}
