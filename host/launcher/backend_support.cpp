#include "launcher/backend_support.hpp"

#include <ctime>
#include <deque>
#include <fstream>

#include "proto/cli_text.hpp"

namespace gmm::host {

Cluster new_cluster(Mode mode, const std::string& dir, const UpOptions& options) {
  Cluster cluster;
  cluster.mode = mode;
  cluster.dir = dir;
  cluster.pool_path = options.pool_path.empty() ? default_pool_path(dir) : options.pool_path;
  cluster.pool_size = options.pool_size;
  cluster.membership = options.membership;
  cluster.binaries = options.binaries;
  cluster.started_unix = static_cast<std::int64_t>(std::time(nullptr));
  return cluster;
}

Result<Geometry> pool_geometry(std::uint64_t size, std::uint32_t nodes, const Membership& membership) {
  Geometry geometry;
  geometry.node_count = nodes;
  geometry.heartbeat_period_us = membership.heartbeat_ms * 1000;
  geometry.miss_threshold = membership.miss_threshold;
  geometry.leave_grace_ms = membership.leave_grace_ms;
  const std::uint64_t needed = min_pool_size(geometry);
  if (size < needed) {
    return make_error(Errc::kInvalidArgument, "pool size " + format_size(size) + " is too small for " +
                                                  std::to_string(nodes) + " nodes (need more than " +
                                                  format_size(needed) + ")");
  }
  return geometry;
}

std::string file_tail(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string tail;
  for (const std::string& line : last) tail += line + "\n";
  return tail;
}

}  // namespace gmm::host
