#include "gmm/result.hpp"

namespace gmm {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument: return "invalid-argument";
    case Errc::kNameTooLong: return "name-too-long";
    case Errc::kNotFound: return "not-found";
    case Errc::kExists: return "exists";
    case Errc::kNoSpace: return "no-space";
    case Errc::kTableFull: return "table-full";
    case Errc::kBusy: return "busy";
    case Errc::kAlreadyOpen: return "already-open";
    case Errc::kBadPool: return "bad-pool";
    case Errc::kOwnerDied: return "owner-died";
    case Errc::kNotRecoverable: return "not-recoverable";
    case Errc::kExpelled: return "expelled";
    case Errc::kPermission: return "permission-denied";
    case Errc::kIo: return "io-error";
  }
  return "unknown";
}

}  // namespace gmm
