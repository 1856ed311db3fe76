// The other half of the platform edge: ringing a node and waiting to be
// rung. Guests ring through the ivshmem Doorbell register and wait on the
// UIO device; host processes use the eventfds the ivshmem server hands out.
// Both follow QEMU's ivshmem server protocol, so one messaging path serves
// both modes.
#pragma once

#include <chrono>
#include <cstdint>

namespace gmm {

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

}  // namespace gmm
