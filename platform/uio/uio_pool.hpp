// The guest backend of gmm::PoolMapping: the ivshmem BAR2 (the global pool)
// through the gmm_ivshmem UIO driver (ivshmem-driver/README.md), plus the
// doorbell of the ivshmem-doorbell device.
//
//   /sys/class/uio/uioN/name          "gmm_ivshmem" (how the device is found)
//   /sys/class/uio/uioN/maps/mapM/{addr,size,offset}
//   /sys/class/uio/uioN/device/vectors        MSI-X vectors (0 = ivshmem-plain)
//   /sys/class/uio/uioN/device/ivposition     own peer id
//   /dev/uioN  mmap offset M * page size = map M; map 0 = BAR0 registers
//              (IVPosition @8, Doorbell @12), map 1 = BAR2 = the pool
//              (write-back); 4-byte read() = interrupt count, all vectors
//
// No fmt/spdlog here: static guest helpers (gmm-uio-probe) link this alone.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gmm/platform.hpp"
#include "gmm/result.hpp"

namespace gmm {

struct UioMap {
  std::uint64_t addr = 0;
  std::uint64_t size = 0;    // bytes mapped at mmap offset index * page size
  std::uint64_t offset = 0;  // where the device data starts in that mapping
};

struct UioDevice {
  std::string name;       // "uio0"
  std::string dev_path;   // "/dev/uio0"
  std::string sysfs_dir;  // "/sys/class/uio/uio0"
  std::vector<UioMap> maps;
  std::uint32_t vectors = 0;
  std::optional<std::int32_t> ivposition;  // from sysfs (the registers are authoritative)
};

inline constexpr const char* kUioDriverName = "gmm_ivshmem";

// Reads one UIO device's description. Errors: kNotFound/kIo with the path.
Result<UioDevice> read_uio_device(const std::string& sysfs_class_dir, const std::string& name,
                                  const std::string& dev_dir = "/dev");
// The first uioN (by number) whose `name` is `driver`. Errors: kNotFound
// "no UIO device named gmm_ivshmem under /sys/class/uio (is the module loaded?)".
Result<UioDevice> find_uio_device(const std::string& sysfs_class_dir = "/sys/class/uio",
                                  const std::string& dev_dir = "/dev", const std::string& driver = kUioDriverName);

class UioPool final : public PoolMapping {
 public:
  // Opens dev_path and maps map 0 (registers) and map 1 (the pool) read-write
  // shared. Errors: fewer than 2 maps, open/mmap failures.
  static Result<std::unique_ptr<UioPool>> open(const UioDevice& device);
  // find_uio_device() + open().
  static Result<std::unique_ptr<UioPool>> open_default();
  ~UioPool() override;

  std::byte* base() const override { return pool_; }
  std::uint64_t size() const override { return pool_size_; }
  std::string describe() const override;  // "ivshmem BAR2 via /dev/uio0"

  const UioDevice& device() const { return device_; }
  // IVPosition read live from BAR0: this VM's ivshmem peer id.
  std::int32_t ivposition() const;
  // Rings `peer`'s `vector` (Doorbell = peer << 16 | vector). Errors:
  // kInvalidArgument without vectors (ivshmem-plain) or a vector out of range.
  Status ring(std::uint16_t peer, std::uint16_t vector) const;
  // Waits for interrupts (any vector): the total count since the device
  // appeared, or nullopt after `timeout`. Errors: kIo (EIO on ivshmem-plain).
  Result<std::optional<std::uint32_t>> wait_event(std::chrono::milliseconds timeout) const;
  int event_fd() const { return fd_; }  // for a caller's poll loop (POLLIN, then read 4 bytes)

 private:
  UioPool(UioDevice device, int fd) : device_(std::move(device)), fd_(fd) {}

  UioDevice device_;
  int fd_ = -1;
  void* regs_map_ = nullptr;
  std::uint64_t regs_map_len_ = 0;
  void* pool_map_ = nullptr;
  std::uint64_t pool_map_len_ = 0;
  volatile std::uint32_t* regs_ = nullptr;  // BAR0
  std::byte* pool_ = nullptr;
  std::uint64_t pool_size_ = 0;
};

}  // namespace gmm
