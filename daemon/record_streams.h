// RecordStreams: the live GET /v1/stream subscribers. Each commit is rendered once as JSON lines
// and pushed to every open stream; a stream that is over (client gone, too slow) is dropped.
#pragma once

#include <memory>
#include <vector>

#include "common/mutex.h"
#include "common/record.h"

namespace hashmesh {

class StreamChannel;
class TrustSource;

// Thread-safe.
class RecordStreams {
 public:
  void Add(std::shared_ptr<StreamChannel> channel);
  // Writer thread: `trust` names the authors in the lines; read only when a stream is open.
  void Publish(const std::vector<ParsedRecord>& records, const TrustSource& trust);
  // Ends every stream (lines queued are still written).
  void CloseAll();

 private:
  Mutex mu_;
  std::vector<std::weak_ptr<StreamChannel>> streams_ GUARDED_BY(mu_);
};

}  // namespace hashmesh
