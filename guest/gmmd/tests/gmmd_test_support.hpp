// What gmmd's handler and server tests share: replies as a client decodes
// them (proto::decode_reply), and callers who are not root (uid 0 may do
// anything, so rights are tested as two ordinary users).
#pragma once

#include <sys/types.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "gmm/result.hpp"
#include "proto/proto.hpp"

namespace gmm::test {

inline constexpr uid_t kOwnerUid = 1000;  // creates the objects
inline constexpr gid_t kOwnerGid = 1000;
inline constexpr uid_t kOtherUid = 2000;  // another user, not in the owner's group
inline constexpr gid_t kOtherGid = 2000;

// The body of an ok reply; fails the test with the error otherwise.
inline nlohmann::json body_of(const Result<nlohmann::json>& reply) {
  if (!reply) FAIL("expected an ok reply, got " << errc_name(reply.error().code) << ": " << reply.error().message);
  return reply.value();
}

// The error of a refused request; fails the test if it was not refused.
inline Error refusal_of(const Result<nlohmann::json>& reply) {
  if (reply) FAIL("expected an error reply, got " << reply.value().dump());
  return reply.error();
}

}  // namespace gmm::test
