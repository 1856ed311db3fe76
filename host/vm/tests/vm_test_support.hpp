// Helpers shared by the host/vm tests.
#pragma once

#include <cstdint>
#include <string>

namespace gmm::host::vm::test {

// A fresh directory under /tmp (short: unix socket paths), removed at scope end.
struct TempDir {
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;
};

// A sparse file of `size` bytes at `path`.
void make_file(const std::string& path, std::uint64_t size);
void write_text(const std::string& path, const std::string& text);  // creates parent dirs
bool qemu_available();  // qemu-system-x86_64 in PATH

}  // namespace gmm::host::vm::test
