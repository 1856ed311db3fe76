// The crash-point victims' use of global mutexes: reaches every sync.* and
// mutex.* point once (create, lock, abandon on behalf of a dead client).
#pragma once

#include "gmm/gmm.hpp"
#include "gmm/sync.hpp"

namespace gmm::test {

inline void run_sync_steps(Node& n) {
  auto mutex = sync::create(n.pool(), n.lock_owner(), layout::SyncKind::kMutex, "victim-mutex", kDefaultSecurity);
  if (!mutex) return;
  (void)sync::mutex_try_lock(n.pool(), n.lock_owner(), 7, *mutex);
  sync::mutex_abandon(n.pool(), n.lock_owner(), 7, *mutex);
  (void)sync::destroy(n.pool(), n.lock_owner(), *mutex);
}

}  // namespace gmm::test
