// hashmesh::Mutex and friends: they exclude, a CondVar wakes a waiter and times out, and a
// SharedMutex lets readers in together but keeps them out while a writer holds it.
#include "common/mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace hashmesh {
namespace {

class Counter {
 public:
  void Add() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    AddLocked();
  }
  int value() const EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return value_;
  }

 private:
  void AddLocked() REQUIRES(mu_) { ++value_; }

  mutable Mutex mu_;
  int value_ GUARDED_BY(mu_) = 0;
};

TEST(MutexTest, LockExcludesOtherThreads) {
  Counter counter;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) counter.Add();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter.value(), 40000);
}

TEST(MutexTest, TryLockFailsWhileAnotherThreadHoldsIt) {
  Mutex mu;
  mu.Lock();
  mu.AssertHeld();
  bool taken_elsewhere = true;
  std::thread([&] {
    taken_elsewhere = false;
    if (mu.TryLock()) {
      taken_elsewhere = true;
      mu.Unlock();
    }
  }).join();
  EXPECT_FALSE(taken_elsewhere);
  mu.Unlock();
  bool taken_when_free = false;
  if (mu.TryLock()) {
    taken_when_free = true;
    mu.Unlock();
  }
  EXPECT_TRUE(taken_when_free);
}

struct Flag {
  Mutex mu;
  CondVar cv;
  bool ready GUARDED_BY(mu) = false;
};

TEST(MutexTest, CondVarWakesAWaiterWhenThePredicateHolds) {
  Flag flag;
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    MutexLock lock(flag.mu);
    flag.cv.Wait(flag.mu, [&]() REQUIRES(flag.mu) { return flag.ready; });
    woke = true;
  });
  {
    MutexLock lock(flag.mu);
    flag.ready = true;
  }
  flag.cv.NotifyAll();
  waiter.join();
  EXPECT_TRUE(woke.load());
}

TEST(MutexTest, CondVarWaitForReturnsThePredicateAtTimeout) {
  Mutex mu;
  CondVar cv;
  MutexLock lock(mu);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(cv.WaitFor(mu, std::chrono::milliseconds(20), [] { return false; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(20));
  EXPECT_TRUE(cv.WaitFor(mu, std::chrono::hours(1), [] { return true; }));
}

TEST(MutexTest, SharedMutexAdmitsReadersTogether) {
  SharedMutex mu;
  std::atomic<int> readers_in{0};
  std::atomic<int> most_readers{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      ReaderMutexLock lock(mu);
      int now = ++readers_in;
      for (int m = most_readers.load(); now > m && !most_readers.compare_exchange_weak(m, now);) {
      }
      // Stay in until all readers are in (or give up), to show they hold it together.
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (readers_in.load() < 3 && std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
      }
      --readers_in;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(most_readers.load(), 3);
}

TEST(MutexTest, SharedMutexKeepsReadersOutWhileAWriterHoldsIt) {
  SharedMutex mu;
  std::atomic<bool> reader_in{false};
  std::thread reader;
  {
    WriterMutexLock lock(mu);
    reader = std::thread([&] {
      ReaderMutexLock reading(mu);
      reader_in = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(reader_in.load());
  }
  reader.join();
  EXPECT_TRUE(reader_in.load());
}

}  // namespace
}  // namespace hashmesh
