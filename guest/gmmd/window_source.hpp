// How gmmd gives a client process access to exactly one part of the pool
// (paper 4.2-4.3): gmmd checks the caller's rights, opens a window onto the
// section's bytes and passes the window's descriptor to the client over the
// daemon socket (SCM_RIGHTS). The client maps the descriptor; it never holds
// a descriptor for the whole pool.
//
// Two implementations, one per platform edge:
//   guest    the gmm_ivshmem driver's window device: the kernel refuses any
//            mapping outside [pool_offset, pool_offset + length) and any
//            write mapping of a read-only window (ivshmem-driver/README.md).
//   process  the pool file itself, opened read-only or read-write: the
//            kernel cannot narrow a file descriptor to a range, so process
//            mode enforces rights per section but not against a client that
//            maps beyond its window (documented in docs/design.md).
#pragma once

#include <cstdint>

#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"

namespace gmm::gmmd {

struct Window {
  UniqueFd fd;                    // handed to the client with SCM_RIGHTS
  std::uint64_t mmap_offset = 0;  // what the client passes to mmap for the window's first byte
  std::uint64_t length = 0;       // bytes mappable from mmap_offset on
  bool writable = false;
};

class WindowSource {
 public:
  virtual ~WindowSource() = default;
  // A descriptor through which [pool_offset, pool_offset + length) can be
  // mapped, writable only if `writable`. Both bounds are page-aligned.
  // Errors: kInvalidArgument (unaligned or outside the pool), kIo.
  virtual Result<Window> open_window(std::uint64_t pool_offset, std::uint64_t length, bool writable) = 0;
};

}  // namespace gmm::gmmd
