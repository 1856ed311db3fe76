// Shared by the gmm-host command implementations (not by main.cpp).
#pragma once

#include <memory>
#include <string>

#include "cluster/cluster.hpp"
#include "launcher/launcher.hpp"
#include "pool/pool_view.hpp"

namespace gmm::host {

// Prints "gmm-host: COMMAND: MESSAGE" on stderr; returns `status`.
int fail(const char* command, const std::string& message, int status = 1);
// The cluster recorded in `dir`; an error telling how to start one if none.
Result<Cluster> recorded_cluster(const std::string& dir);

// "proc mode, 4 nodes, pool PATH (256M), heartbeat 20 ms x 10"
std::string cluster_summary(const Cluster& cluster);

// The recorded cluster, its mode's launcher, `node` checked against it,
// and its pool mapped.
struct NodeTarget {
  Cluster cluster;
  std::unique_ptr<Launcher> launcher;
  MappedPool mapped;
  std::uint32_t node;
  const Pool& pool() const { return mapped.pool; }
};
Result<NodeTarget> node_target(const std::string& dir, std::uint32_t node);

}  // namespace gmm::host
