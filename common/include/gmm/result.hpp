// Error codes and Result<T>: every core call returns one; messages are one line
// a user can act on.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace gmm {

enum class Errc {
  kInvalidArgument,  // malformed request: size 0, bad node id, ...
  kNameTooLong,      // name longer than layout::kNameMax bytes
  kNotFound,         // no such name / GID / share
  kExists,           // name already in use
  kNoSpace,          // no partition has a free extent large enough
  kTableFull,        // a fixed-size table (directory, sections, sharers, extents) is full
  kBusy,             // object is being created or released by another transaction
  kAlreadyOpen,      // this holder already shares the section
  kBadPool,          // wrong magic/version/geometry, truncated or lost memory
  kOwnerDied,        // lock acquired, previous owner died: repair, then make consistent
  kNotRecoverable,   // lock was released without being made consistent
  kExpelled,         // this node was declared failed; it must rejoin
  kPermission,
  kIo,               // host error (open/mmap/socket)
};

std::string_view errc_name(Errc code);

struct Error {
  Errc code;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace gmm
