// Named crash points: every step of every multi-step update has one.
// Armed with GMMD_CRASH_AT=<point>[:<nth>][:<action>] (or crash_arm()), the
// process fails there the nth time it reaches the point, leaving the pool
// exactly as a failed node would. `gmm-host points` lists them all.
// Actions: kill (default: SIGKILL itself, an OS crash), stop (SIGSTOP
// itself, a paused VM: every thread stops, heartbeat included; SIGCONT
// resumes it) and hang (only the calling thread blocks for ever while the
// rest of the process, heartbeat included, runs on: a wedged daemon).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "gmm/result.hpp"

namespace gmm {

// X(enumerator, "name", "what has happened when the node dies here")
#define GMM_CRASH_POINTS(X)                                                                              \
  X(kAllocBegun, "alloc.begun", "transaction record active, nothing reserved")                           \
  X(kAllocDirPrimary, "alloc.dir_primary", "directory lock held, primary entry reserved, replica not")   \
  X(kAllocDirReserved, "alloc.dir_reserved", "directory entry reserved in both copies")                  \
  X(kAllocExtentCarved, "alloc.extent_carved", "partition lock held, free list carved, section unpublished") \
  X(kAllocSectionReserved, "alloc.section_reserved", "partition lock held, section reserved, no sharer")  \
  X(kAllocPartitionReserved, "alloc.partition_reserved", "section and sharer reserved, lock released")   \
  X(kAllocCommitting, "alloc.committing", "transaction marked committing, nothing committed yet")        \
  X(kAllocPartitionCommitted, "alloc.partition_committed", "section and sharer committed, directory not") \
  X(kAllocDirPrimaryCommitted, "alloc.dir_primary_committed", "directory primary committed, replica not") \
  X(kAllocDone, "alloc.done", "everything committed, transaction record not yet idle")                   \
  X(kOpenBegun, "open.begun", "transaction record active")                                               \
  X(kOpenSharerReserved, "open.sharer_reserved", "sharer entry reserved")                                \
  X(kOpenCommitting, "open.committing", "transaction marked committing")                                 \
  X(kOpenDone, "open.done", "sharer committed, transaction record not yet idle")                         \
  X(kCloseBegun, "close.begun", "transaction record active")                                             \
  X(kCloseSharerReleasing, "close.sharer_releasing", "sharer marked releasing")                          \
  X(kCloseCommitting, "close.committing", "transaction marked committing")                               \
  X(kCloseExtentReturned, "close.extent_returned", "partition lock held, last sharer gone, extent on free list, section not freed") \
  X(kClosePartitionDone, "close.partition_done", "sharer (and section, if last) freed, directory entry not") \
  X(kCloseDirPrimaryFreed, "close.dir_primary_freed", "directory primary entry freed, replica not")      \
  X(kCloseDone, "close.done", "everything released, transaction record not yet idle")                    \
  X(kUnlinkPrimary, "unlink.primary", "name unlinked in the directory primary, replica not")            \
  X(kSyncCreateWritten, "sync.create_written", "sync lock held, mutex/event entry written, not published") \
  X(kMutexAbandonMarked, "mutex.abandon_marked", "mutex of a dead client marked abandoned, not released") \
  X(kLeaveRevokeBegun, "leave.revoke_begun", "coordinator revoking a departed node's sections, none revoked yet") \
  X(kLeaveSharerRevoked, "leave.sharer_revoked", "coordinator removed one sharer of a departed node's section, more may remain") \
  X(kLeaveRevoked, "leave.revoked", "every section of the departed node revoked, leave record not yet stamped")

enum class CrashPoint : std::uint32_t {
#define GMM_X(e, name, what) e,
  GMM_CRASH_POINTS(GMM_X)
#undef GMM_X
  kCount
};

struct CrashPointInfo {
  CrashPoint point;
  std::string_view name;
  std::string_view description;
};

std::span<const CrashPointInfo> crash_points();
std::optional<CrashPoint> crash_point_by_name(std::string_view name);

enum class CrashAction : std::uint32_t { kKill, kStop, kHang };

// Arms one point: the process fails the nth time (1-based) it is reached.
void crash_arm(CrashPoint point, std::uint32_t nth = 1, CrashAction action = CrashAction::kKill);
// Arms the next crash point reached, whichever it is (async-signal-safe:
// a test's signal handler "pauses the node at its next step boundary").
void crash_arm_any(CrashAction action);
void crash_disarm();
// True while armed and not yet fired.
bool crash_armed();
struct CrashSpec {
  CrashPoint point;
  std::uint32_t nth = 1;
  CrashAction action = CrashAction::kKill;
};
// Parses "<point>[:<nth>][:kill|stop|hang]"; errors name what is wrong (an
// unknown point or action, a count that is not positive).
Result<CrashSpec> parse_crash_spec(std::string_view spec);
// Arms from GMMD_CRASH_AT (nothing if unset) or from a spec.
Status crash_arm_from_env();
Status crash_arm_from_spec(std::string_view spec);

// Called at each step; fails here if armed for it. A step boundary is also
// a fencing checkpoint: whatever follows a crash point inside a lock checks
// that the lock is still held before it writes, so a node stopped here and
// resumed after it was expelled writes nothing (docs/design.md, "Fencing").
void crash_point(CrashPoint point);

}  // namespace gmm
