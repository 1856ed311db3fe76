// The guest implementation of OsHeartbeat: gmm_ivshmem's heartbeat device
// (/dev/gmm_heartbeat, ivshmem-driver/gmm_ivshmem_uapi.h). gmmd holds one
// open file for its life; start() aims the driver's hrtimer at the node's
// slot and incarnation. The kernel stops beating when the incarnation is no
// longer current and when this file is closed (gmmd exits or is killed).
// Needs CAP_SYS_ADMIN (gmmd runs as root).
//
// No fmt/spdlog here: static guest helpers (gmm-window-probe) link this alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "gmm/platform.hpp"
#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"

namespace gmm {

inline constexpr const char* kHeartbeatDevice = "/dev/gmm_heartbeat";

// What the driver's timer does (GMM_HEARTBEAT_STATUS).
struct UioHeartbeatStatus {
  std::uint32_t node = 0;
  std::uint32_t incarnation = 0;
  std::uint64_t beats = 0;  // since the last start()
  bool running = false;
};

class UioHeartbeat final : public OsHeartbeat {
 public:
  // Opens `device`. Errors: kNotFound (missing: gmm_ivshmem older than
  // 0.3, or not loaded), kPermission, kIo.
  static Result<std::unique_ptr<UioHeartbeat>> open(const std::string& device = kHeartbeatDevice);

  // OsHeartbeat. Errors as there; kIo "not a heartbeat device" (ENOTTY).
  Status start(std::uint32_t node, std::uint32_t incarnation, std::chrono::microseconds period) override;
  std::string describe() const override;
  Result<UioHeartbeatStatus> status() const;

 private:
  UioHeartbeat(std::string device, UniqueFd fd) : device_(std::move(device)), fd_(std::move(fd)) {}

  std::string device_;
  UniqueFd fd_;
};

}  // namespace gmm
