// Must NOT compile under -Werror=thread-safety: reads its guarded member without the lock.
#include "common/mutex.h"

namespace {

class Box {
 public:
  int Get() { return value_; }

 private:
  hashmesh::Mutex mu_;
  int value_ GUARDED_BY(mu_) = 0;
};

}  // namespace

int main() { return Box().Get(); }
