// The pool as a file: process mode's PoolMapping (under /dev/shm; the same
// file QEMU maps for the guests in VM mode, and the host's view of it for
// gmm-host fsck and status).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "gmm/platform.hpp"
#include "gmm/result.hpp"

namespace gmm {

// A sparse file of `size` bytes (a positive multiple of the page size),
// mapped. Errors: kInvalidArgument (size), kIo (the file exists, or cannot be
// created, sized or mapped).
Result<std::unique_ptr<PoolMapping>> create_pool_file(const std::string& path, std::uint64_t size);
// An existing file mapped read-write, shared. Errors: kIo (missing,
// unmappable), kBadPool (smaller than a superblock).
Result<std::unique_ptr<PoolMapping>> map_pool_file(const std::string& path);

}  // namespace gmm
