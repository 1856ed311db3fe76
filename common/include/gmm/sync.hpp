// Global mutexes and events (paper 5.2) in the pool's SyncObject table
// (layout.hpp has the entry and its rules). Every call is one attempt and
// never blocks: a waiter polls with back-off (libgmm does), so a waiter on a
// node that dies holds nothing.
//
// `me` is the calling node's lock owner word (Node::lock_owner()); `client`
// names the process on that node for which it acts (gmmd's client number,
// never 0). Objects are looked up by name on each call, so a destroyed and
// re-created name is simply the new object.
#pragma once

#include <cstdint>
#include <string_view>

#include "gmm/layout.hpp"
#include "gmm/pool.hpp"
#include "gmm/result.hpp"

namespace gmm::sync {

// Creates a named object. Errors: kExists (the name is taken by a mutex or
// an event), kTableFull, kNameTooLong, kInvalidArgument (empty name),
// kExpelled.
Result<std::uint32_t> create(const Pool& pool, std::uint64_t me, layout::SyncKind kind, std::string_view name,
                             const layout::Security& security, bool manual_reset = false, bool signaled = false);
// The live object named `name` of `kind`. Errors: kNotFound.
Result<std::uint32_t> find(const Pool& pool, std::string_view name, layout::SyncKind kind);
// Frees the entry. Errors: kBusy (a mutex someone holds), kExpelled.
Status destroy(const Pool& pool, std::uint64_t me, std::uint32_t index);

enum class Locked { kAcquired, kAbandoned };
// Takes the mutex for `client` (again, if it holds it already: recursive).
// kAbandoned: the previous holder died holding it (its process, or its
// node); the caller owns it now. Errors: kBusy (another holder), kExpelled.
Result<Locked> mutex_try_lock(const Pool& pool, std::uint64_t me, std::uint64_t client, std::uint32_t index);
// Undoes one lock. Errors: kPermission (`client` does not hold it).
Status mutex_unlock(const Pool& pool, std::uint64_t me, std::uint64_t client, std::uint32_t index);
// `client` died: if it holds the mutex, marks it abandoned and releases it.
void mutex_abandon(const Pool& pool, std::uint64_t me, std::uint64_t client, std::uint32_t index);
// Whether `client` of `me` holds it (for gmmd's bookkeeping and tests).
bool mutex_held_by(const Pool& pool, std::uint64_t me, std::uint64_t client, std::uint32_t index);

// true if the event was signaled (an auto-reset event is reset by this call:
// exactly one waiter gets each signal).
bool event_try_wait(const Pool& pool, std::uint32_t index);
void event_set(const Pool& pool, std::uint32_t index);
void event_reset(const Pool& pool, std::uint32_t index);

}  // namespace gmm::sync
