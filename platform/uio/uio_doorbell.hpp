// gmm::Doorbell for gmmd in a guest: the ivshmem-doorbell device through the
// gmm_ivshmem UIO driver. ring(peer, vector) writes the BAR0 Doorbell
// register (QEMU then writes that peer's eventfd, which the ivshmem server
// handed out); wait() polls /dev/uioN, whose event count the driver bumps on
// every MSI-X vector. The process-mode twin is gmm::ivshmem::ClientDoorbell:
// the same server, the same eventfds.
//
// Only for a device with vectors (ivshmem-plain has none: use
// PollingDoorbell). No fmt/spdlog, like uio_pool.
#pragma once

#include <chrono>
#include <cstdint>

#include "gmm/platform.hpp"
#include "uio/uio_pool.hpp"

namespace gmm {

class UioDoorbell final : public Doorbell {
 public:
  // `pool` must outlive this and have vectors (device().vectors > 0).
  explicit UioDoorbell(const UioPool& pool) : pool_(pool) {}

  // One 32-bit register store; from any thread. A vector the device does not
  // have is not rung.
  void ring(std::uint32_t peer, std::uint32_t vector) override;
  // True when an interrupt arrived (any vector) since the last wait.
  bool wait(std::chrono::microseconds timeout) override;

 private:
  const UioPool& pool_;
};

}  // namespace gmm
