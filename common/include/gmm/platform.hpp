// The platform contract: all the core and gmmd ask of the world outside the
// process, in one header (as mimalloc's prim.h). Four interfaces:
//
//   PoolMapping   the mapped pool           file/: a file (process mode)   uio/: the ivshmem BAR2 (guests)
//   Doorbell      ring a node, be rung      ivshmem/: the ivshmem server's eventfds   uio/: the BAR0 Doorbell register
//   WindowSource  a client's view of one    file/: a descriptor of the pool file      uio/: the driver's window device
//                 section of the pool
//   OsHeartbeat   the node's OS beats       (none in process mode: gmmd beats)       uio/: the driver's heartbeat timer
//                 for the node
//
// The backends are in platform/ (one library per folder); the core includes
// this header and nothing else of the platform, so its tests run on a pool
// file without a VM. gmmd picks its backends once, at start-up.
//
// Guests and host processes both follow QEMU's ivshmem server protocol, so
// one messaging path serves both modes (docs/design.md, "Inter-node messages").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"

namespace gmm {

// A mapped pool region, whatever backs it.
class PoolMapping {
 public:
  virtual ~PoolMapping() = default;
  virtual std::byte* base() const = 0;
  virtual std::uint64_t size() const = 0;
  virtual std::string describe() const = 0;  // for error messages: "pool file /dev/shm/x"
};

// Ringing a node and waiting to be rung.
class Doorbell {
 public:
  virtual ~Doorbell() = default;
  // Interrupts `peer` (a node id) on `vector`. Never blocks.
  virtual void ring(std::uint32_t peer, std::uint32_t vector) = 0;
  // Sleeps until rung or `timeout` passes; true if rung.
  virtual bool wait(std::chrono::microseconds timeout) = 0;
};

// Without interrupts: ring does nothing, wait sleeps the whole timeout, so
// receivers poll once per period.
class PollingDoorbell final : public Doorbell {
 public:
  void ring(std::uint32_t, std::uint32_t) override {}
  bool wait(std::chrono::microseconds timeout) override;
};

// How gmmd gives a client process access to exactly one part of the pool
// (paper 4.2-4.3): gmmd checks the caller's rights, opens a window onto the
// section's bytes and passes the window's descriptor to the client over the
// daemon socket (SCM_RIGHTS). The client maps the descriptor; it never holds
// a descriptor for the whole pool.
//
//   guest    the gmm_ivshmem driver's window device: the kernel refuses any
//            mapping outside [pool_offset, pool_offset + length) and any
//            write mapping of a read-only window (ivshmem-driver/README.md).
//   process  the pool file itself, opened read-only or read-write: the
//            kernel cannot narrow a file descriptor to a range, so process
//            mode enforces rights per section but not against a client that
//            maps beyond its window (documented in docs/design.md).
//
// Revocation (paper 3.7, docs/design.md "Revocation at the client"): where
// the platform can take a window back, open_window also returns `revoker`,
// a second descriptor of the same window that gmmd keeps while the client
// holds the section; revoke(revoker) then tears down every mapping of the
// window in every process (a later touch is SIGBUS) and refuses new ones.
// In process mode `revoker` is empty: nothing outside a process can unmap
// what it mapped from the pool file.
struct Window {
  UniqueFd fd;                    // handed to the client with SCM_RIGHTS
  std::uint64_t mmap_offset = 0;  // what the client passes to mmap for the window's first byte
  std::uint64_t length = 0;       // bytes mappable from mmap_offset on
  bool writable = false;
  UniqueFd revoker;               // kept by gmmd; empty where windows cannot be revoked
};

class WindowSource {
 public:
  virtual ~WindowSource() = default;
  // A descriptor through which [pool_offset, pool_offset + length) can be
  // mapped, writable only if `writable`. Both bounds are page-aligned.
  // Errors: kInvalidArgument (unaligned or outside the pool), kIo.
  virtual Result<Window> open_window(std::uint64_t pool_offset, std::uint64_t length, bool writable) = 0;
  // Takes back for good the window `revoker` came with (a Window's
  // revoker, never empty). Revoking twice is no error. Errors: kPermission,
  // kIo; kInvalidArgument where windows have no revoker (process mode).
  virtual Status revoke(const UniqueFd& revoker) = 0;
};

// The node's heartbeat kept below the daemon, by the node's OS (paper 3.4:
// GMM lives in the kernel there), so that no load on the node's user space
// can starve it. Given (node, incarnation), it advances that node slot's
// `heartbeat` and `heartbeat_ns` every period and stops by itself, at once,
// when the slot shows another incarnation or a dead state, and when the
// daemon that asked is gone (its descriptor closed). `progress` stays the
// daemon's (docs/design.md, "Threads of a node").
//
//   guest    the gmm_ivshmem driver's hrtimer (/dev/gmm_heartbeat, uio/uio_heartbeat.hpp)
//   process  none: gmmd's liveness thread beats the heartbeat itself
class OsHeartbeat {
 public:
  virtual ~OsHeartbeat() = default;
  // Beat for (node, incarnation) every `period` from now on, replacing any
  // earlier request. Called by the liveness thread after every join.
  // Errors: kExpelled (the slot no longer shows this incarnation alive),
  // kBadPool (no GMM pool of this layout), kPermission, kInvalidArgument, kIo.
  virtual Status start(std::uint32_t node, std::uint32_t incarnation, std::chrono::microseconds period) = 0;
  virtual std::string describe() const = 0;  // "the gmm_ivshmem timer (/dev/gmm_heartbeat)"
};

}  // namespace gmm
