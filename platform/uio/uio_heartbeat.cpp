#include "uio/uio_heartbeat.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gmm_ivshmem_uapi.h"

namespace gmm {

Result<std::unique_ptr<UioHeartbeat>> UioHeartbeat::open(const std::string& device) {
  UniqueFd fd(::open(device.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    if (err == ENOENT)
      return make_error(Errc::kNotFound, "no " + device + ": a kernel heartbeat needs gmm_ivshmem 0.3 or later");
    if (err == EACCES || err == EPERM) return make_error(Errc::kPermission, "cannot open " + device + ": " + std::strerror(err));
    return make_error(Errc::kIo, "cannot open " + device + ": " + std::strerror(err));
  }
  return std::unique_ptr<UioHeartbeat>(new UioHeartbeat(device, std::move(fd)));
}

Status UioHeartbeat::start(std::uint32_t node, std::uint32_t incarnation, std::chrono::microseconds period) {
  gmm_heartbeat_args args{};
  args.node = node;
  args.incarnation = incarnation;
  args.period_ns = static_cast<std::uint64_t>(period.count()) * 1000;
  if (::ioctl(fd_.get(), GMM_HEARTBEAT_START, &args) == 0) return ok_status();
  const int err = errno;
  const std::string what = "cannot start the kernel heartbeat for node " + std::to_string(node) + " incarnation " +
                           std::to_string(incarnation) + " on " + device_ + ": ";
  switch (err) {
    case ESTALE: return make_error(Errc::kExpelled, what + "the slot shows another incarnation or a dead state");
    case ENODEV: return make_error(Errc::kBadPool, what + "the ivshmem BAR holds no formatted GMM pool");
    case EPROTO: return make_error(Errc::kBadPool, what + "the pool's layout version is not the driver's");
    case EPERM: return make_error(Errc::kPermission, what + "needs CAP_SYS_ADMIN (run gmmd as root)");
    case EINVAL: return make_error(Errc::kInvalidArgument, what + "node id or period out of range");
    case ENOTTY: return make_error(Errc::kIo, what + "not a gmm_heartbeat device (gmm_ivshmem 0.3 or later)");
    default: return make_error(Errc::kIo, what + std::strerror(err));
  }
}

std::string UioHeartbeat::describe() const { return "the gmm_ivshmem kernel timer (" + device_ + ")"; }

Result<UioHeartbeatStatus> UioHeartbeat::status() const {
  gmm_heartbeat_status raw{};
  if (::ioctl(fd_.get(), GMM_HEARTBEAT_STATUS, &raw) != 0)
    return make_error(Errc::kIo, "GMM_HEARTBEAT_STATUS on " + device_ + ": " + std::strerror(errno));
  return UioHeartbeatStatus{raw.node, raw.incarnation, raw.beats, raw.running != 0};
}

}  // namespace gmm
