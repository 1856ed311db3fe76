// The host watcher's side of membership (docs/design.md, "The host
// watcher"): notices and fences, as the pool shows them.
//
// gmm-host's watcher sees a node's process die or its guest panic at once
// (pidfd, QMP). It posts a notice naming (node, incarnation) in the node's
// slot (`host_notice`) and rings the survivors; a survivor that is rung, or
// sees it at its next liveness tick, declares that incarnation failed the
// normal way (records::declare_noticed: the membership lock, a re-check,
// the record). The notice names an incarnation, so a late one can never
// expel the node after it rejoined as a new incarnation.
//
// Fencing: while a watcher runs, a node declared failed may still be
// running (paused, hung, falsely suspected). The watcher stops its
// processes for good and then stores `fenced` = that incarnation. Until
// then nobody reclaims what it holds: the coordinator does not recover it
// and its table locks are not taken over (it still counts as their
// owner). If the watcher goes (its beat is older than kWatcherLeaseNs)
// recovery proceeds without the fence, as it does without a watcher.
//
// Only reads and single-word stores of the pool here; no lock, no waiting.
#pragma once

#include <cstdint>

#include "gmm/layout.hpp"
#include "gmm/pool.hpp"

namespace gmm {

// A watcher beat within the lease, on this node's clock (`now_ns`: CLOCK_REALTIME).
bool watcher_running(const Pool& pool, std::uint64_t now_ns);
// Ring watchers declare stalled successors: the heartbeat is a detector, or
// the watcher that replaces it is not running (the fallback).
bool heartbeat_detection_on(const Pool& pool, std::uint64_t now_ns);
// (node, incarnation) was declared failed and a running watcher has not
// fenced it yet: nothing of it may be reclaimed now.
bool fence_pending(const Pool& pool, std::uint32_t node, std::uint32_t incarnation, std::uint64_t now_ns);
// The incarnation the host's notice names, if it is the node's current one
// and alive by state (member or joining); 0 otherwise.
std::uint32_t live_notice(const Pool& pool, std::uint32_t node);

// The watcher's writes (gmm-host; tests).
void watcher_beat(const Pool& pool, std::uint64_t now_ns, std::uint64_t pid);
void watcher_stopped(const Pool& pool);  // an orderly stop: the fallback starts at once
void post_notice(const Pool& pool, std::uint32_t node, std::uint32_t incarnation);
// The processes of (node, incarnation) are gone for good (or, kGaveUp, the
// watcher could not stop them): recovery may proceed. Also fills in the
// failure's record, if it has one, with `outcome` and `now_ns`.
void mark_fenced(const Pool& pool, std::uint32_t node, std::uint32_t incarnation, layout::FenceOutcome outcome,
                 std::uint64_t now_ns);

}  // namespace gmm
