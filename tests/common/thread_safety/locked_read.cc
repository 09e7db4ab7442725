// Must compile under -Werror=thread-safety: reads its guarded member with the lock held.
#include "common/mutex.h"

namespace {

class Box {
 public:
  int Get() {
    hashmesh::MutexLock lock(mu_);
    return value_;
  }

 private:
  hashmesh::Mutex mu_;
  int value_ GUARDED_BY(mu_) = 0;
};

}  // namespace

int main() { return Box().Get(); }
