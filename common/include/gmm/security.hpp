// Access checks on global objects (paper 4.3). Every section, name, mutex
// and event carries a layout::Security in the pool; whichever node serves a
// request checks the caller's credentials (from the kernel: SO_PEERCRED)
// against it, so the answer is the same on every node.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gmm/layout.hpp"
#include "gmm/result.hpp"

namespace gmm {

struct Credentials {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

enum class Right : std::uint32_t { kRead = 4, kWrite = 2 };

// POSIX rules: uid 0 may do anything; otherwise the owner's bits if the
// caller owns the object, else the group's if its gid matches, else the others'.
bool permits(const layout::Security& security, Credentials caller, Right right);
// Only the owner (or uid 0) may destroy an object.
bool owns(const layout::Security& security, Credentials caller);

// kPermission with one line naming who, what and the object's descriptor:
//   permission denied: uid 1000 gid 1000 may not write section "orders"
//   (owner 0:0, mode 0600); ask its owner or run as a user it allows
Status check_access(const layout::Security& security, Credentials caller, Right right, std::string_view object);
Status check_owner(const layout::Security& security, Credentials caller, std::string_view object);

std::string describe(const layout::Security& security);  // "owner 0:0, mode 0600"

}  // namespace gmm
