// What both backends do alike when they start a cluster or explain a node
// that died: the new record, the pool's geometry, a log's tail.
#pragma once

#include <cstdint>
#include <string>

#include "cluster/cluster.hpp"
#include "gmm/pool.hpp"
#include "gmm/result.hpp"
#include "launcher/launcher.hpp"

namespace gmm::host {

// How much of a node's log an error shows.
inline constexpr int kLogTailLines = 15;

// The record of a cluster `up` is about to start in `dir`, before any
// backend's part: what both take from `options` alike.
Cluster new_cluster(Mode mode, const std::string& dir, const UpOptions& options);

// The pool geometry for `nodes` nodes with `membership`'s timing. Errors:
// kInvalidArgument if `size` bytes cannot hold it.
Result<Geometry> pool_geometry(std::uint64_t size, std::uint32_t nodes, const Membership& membership);

// The last `lines` lines of a text file ("" if unreadable).
std::string file_tail(const std::string& path, int lines = kLogTailLines);

}  // namespace gmm::host
