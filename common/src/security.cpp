#include "gmm/security.hpp"

#include <fmt/format.h>

namespace gmm {

bool permits(const layout::Security& security, Credentials caller, Right right) {
  if (caller.uid == 0) return true;
  const auto bit = static_cast<std::uint32_t>(right);
  if (caller.uid == security.uid) return (security.mode >> 6 & bit) != 0;
  if (caller.gid == security.gid) return (security.mode >> 3 & bit) != 0;
  return (security.mode & bit) != 0;
}

bool owns(const layout::Security& security, Credentials caller) {
  return caller.uid == 0 || caller.uid == security.uid;
}

std::string describe(const layout::Security& security) {
  return fmt::format("owner {}:{}, mode {:04o}", security.uid, security.gid, security.mode);
}

namespace {

Error denied(const layout::Security& security, Credentials caller, std::string_view what, std::string_view object) {
  return make_error(Errc::kPermission, fmt::format("permission denied: uid {} gid {} may not {} {} ({}); ask its owner "
                                                   "or run as a user it allows",
                                                   caller.uid, caller.gid, what, object, describe(security)));
}

}  // namespace

Status check_access(const layout::Security& security, Credentials caller, Right right, std::string_view object) {
  if (permits(security, caller, right)) return ok_status();
  return denied(security, caller, right == Right::kRead ? "read" : "write", object);
}

Status check_owner(const layout::Security& security, Credentials caller, std::string_view object) {
  if (owns(security, caller)) return ok_status();
  return denied(security, caller, "destroy", object);
}

}  // namespace gmm
