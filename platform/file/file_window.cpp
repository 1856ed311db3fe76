#include "file/file_window.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "gmm/layout.hpp"

namespace gmm {

Result<Window> FileWindowSource::open_window(std::uint64_t pool_offset, std::uint64_t length, bool writable) {
  if (pool_offset % layout::kPageSize != 0 || length % layout::kPageSize != 0 || length == 0 ||
      pool_offset > pool_size_ || length > pool_size_ - pool_offset) {
    return make_error(Errc::kInvalidArgument, "window [" + std::to_string(pool_offset) + ", +" +
                                                  std::to_string(length) + ") is unaligned or outside the pool");
  }
  int fd = ::open(pool_path_.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::kIo, "cannot open pool file " + pool_path_ + ": " + std::strerror(errno));
  Window window;
  window.fd = UniqueFd(fd);
  window.mmap_offset = pool_offset;
  window.length = length;
  window.writable = writable;
  return window;
}

Status FileWindowSource::revoke(const UniqueFd&) {
  return make_error(Errc::kInvalidArgument,
                    "process mode cannot revoke a window: the client's mapping of the pool file is its own");
}

}  // namespace gmm
