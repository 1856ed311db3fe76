#include "uio/uio_window.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gmm_ivshmem_uapi.h"

namespace gmm {
namespace {

std::string range_text(std::uint64_t offset, std::uint64_t length) {
  return "[" + std::to_string(offset) + ", +" + std::to_string(length) + ")";
}

class UioWindowSource final : public WindowSource {
 public:
  explicit UioWindowSource(std::string device) : device_(std::move(device)) {}

  Result<Window> open_window(std::uint64_t pool_offset, std::uint64_t length, bool writable) override {
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    if (length == 0 || pool_offset % page != 0 || length % page != 0) {
      return make_error(Errc::kInvalidArgument, "window " + range_text(pool_offset, length) +
                                                    " must be non-empty and page-aligned (" + std::to_string(page) +
                                                    " bytes)");
    }
    // A read-only window on a read-only descriptor: the kernel then refuses
    // write mappings twice over.
    UniqueFd fd(::open(device_.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC));
    if (!fd) return make_error(Errc::kIo, "cannot open " + device_ + ": " + std::strerror(errno));
    gmm_window_args args{};
    args.offset = pool_offset;
    args.length = length;
    args.flags = writable ? GMM_WINDOW_WRITABLE : 0;
    if (::ioctl(fd.get(), GMM_WINDOW_SET, &args) != 0) {
      const int err = errno;
      const std::string what = "cannot set window " + range_text(pool_offset, length) + " on " + device_ + ": ";
      switch (err) {
        case EINVAL: return make_error(Errc::kInvalidArgument, what + "it lies outside the pool");
        case EPERM: return make_error(Errc::kPermission, what + "setting windows needs CAP_SYS_ADMIN (run gmmd as root)");
        case ENOTTY: return make_error(Errc::kIo, what + "not a gmm_window device (gmm_ivshmem 0.2 or later)");
        default: return make_error(Errc::kIo, what + std::strerror(err));
      }
    }
    // The same open file, for gmmd to keep: GMM_WINDOW_REVOKE on it
    // reaches every mapping the client makes through its copy.
    UniqueFd revoker(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
    if (!revoker) return make_error(Errc::kIo, "cannot duplicate a window descriptor: " + std::string(std::strerror(errno)));
    Window window;
    window.fd = std::move(fd);
    window.mmap_offset = 0;  // the device's file offset 0 is the window's first byte
    window.length = length;
    window.writable = writable;
    window.revoker = std::move(revoker);
    return window;
  }

  Status revoke(const UniqueFd& revoker) override {
    if (::ioctl(revoker.get(), GMM_WINDOW_REVOKE) == 0) return ok_status();
    const int err = errno;
    const std::string what = "cannot revoke a window of " + device_ + ": ";
    switch (err) {
      case EPERM: return make_error(Errc::kPermission, what + "revoking windows needs CAP_SYS_ADMIN (run gmmd as root)");
      case ENOTTY: return make_error(Errc::kIo, what + "gmm_ivshmem before 0.4 cannot revoke windows");
      default: return make_error(Errc::kIo, what + std::strerror(err));
    }
  }

 private:
  std::string device_;
};

}  // namespace

Result<std::unique_ptr<WindowSource>> open_uio_window_source(const std::string& device) {
  struct stat st;
  if (::stat(device.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return make_error(Errc::kNotFound,
                        "no " + device + ": per-process windows need gmm_ivshmem 0.2 or later (is it loaded?)");
    }
    return make_error(Errc::kIo, "cannot stat " + device + ": " + std::strerror(errno));
  }
  if (!S_ISCHR(st.st_mode)) return make_error(Errc::kIo, device + " is not a character device");
  return std::unique_ptr<WindowSource>(std::make_unique<UioWindowSource>(device));
}

}  // namespace gmm
