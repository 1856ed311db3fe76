// Process mode's WindowSource: a fresh descriptor of the pool file, opened
// read-only or read-write, for each window.
//
// What it cannot enforce: the kernel cannot narrow a file descriptor to a
// byte range, so a client holding a window may mmap any part of the pool
// file through it (with the descriptor's access mode). Rights are checked
// per section when the window is handed out, and a read-only window really
// is read-only, but process mode trusts clients not to map beyond their
// window. Guests get range-checked windows from the driver instead. Nor can
// a window be revoked: the client's mapping of the pool file is its own
// (Window::revoker stays empty; docs/design.md "Revocation at the client").
#pragma once

#include <string>

#include "gmm/platform.hpp"

namespace gmm {

class FileWindowSource final : public WindowSource {
 public:
  // `pool_path`: the pool file gmmd itself mapped; `pool_size` its size.
  FileWindowSource(std::string pool_path, std::uint64_t pool_size)
      : pool_path_(std::move(pool_path)), pool_size_(pool_size) {}
  Result<Window> open_window(std::uint64_t pool_offset, std::uint64_t length, bool writable) override;
  Status revoke(const UniqueFd& revoker) override;

 private:
  std::string pool_path_;
  std::uint64_t pool_size_;
};

}  // namespace gmm
