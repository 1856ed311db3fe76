// gmmd's request handler: one protocol line in, one reply line out, against
// this node's gmm::Node, plus the per-client bookkeeping of the application
// interface (paper 4.1-4.2, the UAPI driver's tables): which client holds
// which section handles. No I/O of its own, so tests can drive it directly.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gmm/gmm.hpp"
#include "gmm/messages.hpp"
#include "gmm/platform.hpp"
#include "gmm/security.hpp"
#include "gmm/unique_fd.hpp"
#include "proto/proto.hpp"

namespace gmm::gmmd {

// gmmd holds the shares it takes for gmmctl (alloc/open) as this holder; a
// share therefore outlives the gmmctl call that opened it, until
// `close`/`free`. A client's acquired sections are held as holder
// Caller::client (never 0), and released when the client goes.
inline constexpr std::uint64_t kDaemonHolder = 0;

// Who sent a request: the connection's serial and the kernel's word on the
// peer process (SO_PEERCRED).
struct Caller {
  std::uint64_t client = 0;  // connection serial, >= 1
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  Credentials credentials() const { return {uid, gid}; }
};

// What one request line produced.
struct Handled {
  std::string reply;                // without its trailing '\n'
  bool starts_watch = false;        // an accepted `watch`: the connection now carries events
  std::uint32_t watch_events = 0;   // of these kinds (proto::event_bit bits; 0 = all)
  UniqueFd descriptor;              // sent with the reply (acquire's window)
};

class RequestHandler {
 public:
  // `windows` may be null: then `acquire` fails with kIo (no window source
  // on this platform). `ping_fields`: what gmmd adds to ping replies (its
  // doorbell), if anything. `messenger` (the agent thread's, used here only
  // to send) may be null: then `send` fails with kIo.
  RequestHandler(Node& node, WindowSource* windows, std::function<nlohmann::json()> ping_fields = {},
                 Messenger* messenger = nullptr)
      : node_(node), windows_(windows), ping_fields_(std::move(ping_fields)), messenger_(messenger) {}

  // Never fails: bad requests and core errors become error replies.
  Handled handle_line(std::string_view line, const Caller& caller);

  // The client hung up (or died): releases every section it acquired.
  void client_gone(const Caller& caller);

  // Sections `client` holds right now (for tests and `whoami`).
  std::size_t handles_of(std::uint64_t client) const;

  // After memory was lost or a departed node's sections were revoked (the
  // core no longer holds the share): drops every client handle whose
  // section is gone, revokes its window where the platform can (guests:
  // every mapping of it is torn down, a later touch is SIGBUS), and says
  // `why` when the client next names it (relinquish: kNotFound "... was
  // revoked: <why>"). What it cannot do: in process mode the client's
  // mapping of the pool file stays (docs/design.md "Revocation at the
  // client"). Returns how many handles it dropped.
  std::size_t revoke_gone_handles(const std::string& why);

 private:
  Result<nlohmann::json> dispatch(const proto::Request& request, const Caller& caller, UniqueFd& descriptor);
  Result<nlohmann::json> acquire(const proto::Request& request, const Caller& caller, UniqueFd& descriptor);
  Result<nlohmann::json> relinquish(Gid gid, const Caller& caller);
  Result<nlohmann::json> sync_request(const proto::Request& request, const Caller& caller);
  Result<nlohmann::json> send(const proto::Request& request);
  // The section named by `name`, if `caller` has `right` on it.
  Result<SectionInfo> checked_section(Gid gid, const Caller& caller, Right right);
  Result<Gid> checked_name(const std::string& name, const Caller& caller, Right right);
  // The section's bytes [offset, offset + length), if this node shares it.
  Result<std::span<std::byte>> shared_range(const std::string& name, std::uint64_t offset, std::uint64_t length);

  Node& node_;
  WindowSource* windows_;
  std::function<nlohmann::json()> ping_fields_;
  Messenger* messenger_;
  // client -> acquired sections -> the window's revoker (WindowSource::revoke;
  // empty in process mode), closed when the handle goes
  std::map<std::uint64_t, std::map<Gid, UniqueFd>> handles_;
  std::map<std::uint64_t, std::map<Gid, std::string>> revoked_;  // client -> revoked handles -> why
  std::map<std::uint64_t, std::set<std::uint32_t>> mutexes_;  // client -> SyncObject indices it may hold
};

}  // namespace gmm::gmmd
