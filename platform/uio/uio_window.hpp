// The guest implementation of WindowSource: gmm_ivshmem's window device
// (/dev/gmm_window, ivshmem-driver/gmm_ivshmem_uapi.h). Each window is a
// fresh open of the device, aimed once with GMM_WINDOW_SET; the kernel then
// maps only the window's pages through that descriptor, never writably if
// the window is read-only, and nobody can re-aim it. Setting a window needs
// CAP_SYS_ADMIN (gmmd runs as root); the client that receives the
// descriptor needs nothing.
//
// No fmt/spdlog here: static guest helpers (gmm-window-probe) link this alone.
#pragma once

#include <memory>
#include <string>

#include "gmm/platform.hpp"
#include "gmm/result.hpp"

namespace gmm {

inline constexpr const char* kWindowDevice = "/dev/gmm_window";

// A WindowSource over `device`. Errors: kNotFound when the device is missing
// (gmm_ivshmem older than 0.2, or not loaded), kIo when it is no character
// device. open_window() errors: kInvalidArgument (empty, unaligned, outside
// the pool), kPermission (caller without CAP_SYS_ADMIN), kIo. Each window
// comes with a revoker (a dup of its descriptor); revoke() errors:
// kPermission, kIo (also for gmm_ivshmem before 0.4, which cannot revoke).
Result<std::unique_ptr<WindowSource>> open_uio_window_source(const std::string& device = kWindowDevice);

}  // namespace gmm
