// Process mode: every node is a gmmd process on this host, all mapping the
// same pool file under /dev/shm.
#pragma once

#include <vector>

#include "cluster.hpp"

namespace gmm::host::proc {

Result<Cluster> up(const UpOptions& options);
std::vector<NodeHealth> health(const Cluster& cluster);
Status down(const Cluster& cluster);

}  // namespace gmm::host::proc
