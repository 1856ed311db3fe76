#include "gmm/sync.hpp"

#include <cstring>

#include <fmt/format.h>

#include "directory.hpp"
#include "gmm/atomic.hpp"
#include "gmm/crash.hpp"
#include "gmm/lock.hpp"

namespace gmm::sync {
using namespace layout;

namespace {

bool live(const SyncObject& object) { return load_state<EntryState>(object.state) == EntryState::kCommitted; }

std::string_view name_of(const SyncObject& object) {
  return std::string_view(object.name, strnlen(object.name, sizeof object.name));
}

std::uint32_t find_any(const Pool& pool, std::string_view name) {
  const std::uint64_t hash = dir::name_hash(name);
  auto table = pool.sync_objects();
  for (std::uint32_t i = 0; i < table.size(); ++i) {
    if (live(table[i]) && load_acquire(table[i].name_hash) == hash && name_of(table[i]) == name) return i;
  }
  return kNoIndex;
}

std::string_view kind_name(SyncKind kind) { return kind == SyncKind::kMutex ? "mutex" : "event"; }

// Nothing in the table is derived: an entry is published by one store.
Result<TableLock> lock_table(const Pool& pool, std::uint64_t me) {
  return TableLock::acquire(pool, pool.locks().sync, me, [] {});
}

}  // namespace

Result<std::uint32_t> create(const Pool& pool, std::uint64_t me, SyncKind kind, std::string_view name,
                             const Security& security, bool manual_reset, bool signaled) {
  if (name.empty()) return make_error(Errc::kInvalidArgument, "a global mutex or event needs a name");
  if (name.size() > kNameMax) {
    return make_error(Errc::kNameTooLong, fmt::format("name is {} bytes, the limit is {}", name.size(), kNameMax));
  }
  auto lock = lock_table(pool, me);
  if (!lock) return lock.error();
  if (find_any(pool, name) != kNoIndex) {
    return make_error(Errc::kExists, fmt::format("a global mutex or event named '{}' already exists", name));
  }
  auto table = pool.sync_objects();
  for (std::uint32_t i = 0; i < table.size(); ++i) {
    SyncObject& object = table[i];
    if (load_state<EntryState>(object.state) != EntryState::kFree) continue;
    if (!lock->held()) return TableLock::expelled();
    object.kind = static_cast<std::uint32_t>(kind);
    object.security = security;
    object.lock = GlobalLock{};
    object.holder_client = 0;
    object.recursion = 0;
    object.abandoned = 0;
    object.signaled = signaled ? 1 : 0;
    object.manual_reset = manual_reset ? 1 : 0;
    object.name_hash = dir::name_hash(name);
    std::memset(object.name, 0, sizeof object.name);
    std::memcpy(object.name, name.data(), name.size());
    crash_point(CrashPoint::kSyncCreateWritten);
    if (!lock->held()) return TableLock::expelled();
    publish_state(object.state, EntryState::kCommitted);
    return i;
  }
  return make_error(Errc::kTableFull, fmt::format("the global mutex/event table is full ({} entries)", kSyncObjects));
}

Result<std::uint32_t> find(const Pool& pool, std::string_view name, SyncKind kind) {
  const std::uint32_t index = find_any(pool, name);
  if (index == kNoIndex || load_state<SyncKind>(pool.sync_objects()[index].kind) != kind) {
    return make_error(Errc::kNotFound, fmt::format("no global {} named '{}'", kind_name(kind), name));
  }
  return index;
}

Status destroy(const Pool& pool, std::uint64_t me, std::uint32_t index) {
  auto lock = lock_table(pool, me);
  if (!lock) return lock.error();
  SyncObject& object = pool.sync_objects()[index];
  if (!live(object)) return ok_status();
  const std::uint64_t owner = load_acquire(object.lock.owner);
  if (owner != 0 && lock_owner_alive(pool, owner)) {
    return make_error(Errc::kBusy, fmt::format("mutex '{}' is held; unlock it first", name_of(object)));
  }
  if (!lock->held()) return TableLock::expelled();
  publish_state(object.state, EntryState::kFree);
  return ok_status();
}

Result<Locked> mutex_try_lock(const Pool& pool, std::uint64_t me, std::uint64_t client, std::uint32_t index) {
  SyncObject& object = pool.sync_objects()[index];
  if (load_acquire(object.lock.owner) == me) {
    if (load_acquire(object.holder_client) != client) {
      return make_error(Errc::kBusy, fmt::format("mutex '{}' is held by another process", name_of(object)));
    }
    store_release(object.recursion, load_acquire(object.recursion) + 1);
    return Locked::kAcquired;
  }
  auto got = lock_try_acquire(pool, object.lock, me);
  if (!got) {
    if (got.error().code == Errc::kBusy) {
      return make_error(Errc::kBusy, fmt::format("mutex '{}' is held by another process", name_of(object)));
    }
    return got.error();
  }
  // Win32 semantics: the new owner is told and owns it; there is no
  // "not recoverable" state.
  bool abandoned = got.value() == LockAcquired::kOwnerDied || load_acquire(object.abandoned) != 0;
  if (got.value() == LockAcquired::kOwnerDied) lock_make_consistent(object.lock);
  store_release(object.abandoned, std::uint32_t{0});
  store_release(object.holder_client, client);
  store_release(object.recursion, std::uint32_t{1});
  return abandoned ? Locked::kAbandoned : Locked::kAcquired;
}

bool mutex_held_by(const Pool& pool, std::uint64_t me, std::uint64_t client, std::uint32_t index) {
  const SyncObject& object = pool.sync_objects()[index];
  return load_acquire(object.lock.owner) == me && load_acquire(object.holder_client) == client;
}

Status mutex_unlock(const Pool& pool, std::uint64_t me, std::uint64_t client, std::uint32_t index) {
  SyncObject& object = pool.sync_objects()[index];
  if (!mutex_held_by(pool, me, client, index)) {
    return make_error(Errc::kPermission, fmt::format("mutex '{}' is not held by this process", name_of(object)));
  }
  const std::uint32_t depth = load_acquire(object.recursion);
  if (depth > 1) {
    store_release(object.recursion, depth - 1);
    return ok_status();
  }
  store_release(object.recursion, std::uint32_t{0});
  store_release(object.holder_client, std::uint64_t{0});
  lock_release(object.lock, me);
  return ok_status();
}

void mutex_abandon(const Pool& pool, std::uint64_t me, std::uint64_t client, std::uint32_t index) {
  SyncObject& object = pool.sync_objects()[index];
  if (!mutex_held_by(pool, me, client, index)) return;
  // Marked before the release: whoever takes it next sees the mark. A crash
  // in between leaves the lock with a dead owner: abandoned all the same.
  store_release(object.abandoned, std::uint32_t{1});
  crash_point(CrashPoint::kMutexAbandonMarked);
  if (!mutex_held_by(pool, me, client, index) || !lock_owner_alive(pool, me)) return;  // fenced: another holder now
  store_release(object.recursion, std::uint32_t{0});
  store_release(object.holder_client, std::uint64_t{0});
  lock_release(object.lock, me);
}

bool event_try_wait(const Pool& pool, std::uint32_t index) {
  SyncObject& object = pool.sync_objects()[index];
  if (load_acquire(object.manual_reset) != 0) return load_acquire(object.signaled) != 0;
  std::uint32_t expected = 1;
  return cas_acq_rel(object.signaled, expected, std::uint32_t{0});
}

void event_set(const Pool& pool, std::uint32_t index) {
  store_release(pool.sync_objects()[index].signaled, std::uint32_t{1});
}

void event_reset(const Pool& pool, std::uint32_t index) {
  store_release(pool.sync_objects()[index].signaled, std::uint32_t{0});
}

}  // namespace gmm::sync
