// gmmd's request handler: one protocol line in, one reply line out, against
// this node's gmm::Node. No I/O of its own, so tests can drive it directly.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gmm/gmm.hpp"
#include "proto/proto.hpp"

namespace gmm::gmmd {

// gmmd holds every share it takes for its clients as this holder; a share
// therefore outlives the gmmctl call that opened it, until `close`/`free`.
inline constexpr std::uint64_t kDaemonHolder = 0;

// What one request line produced.
struct Handled {
  std::string reply;                // without its trailing '\n'
  bool starts_watch = false;        // an accepted `watch`: the connection now carries events
  std::uint32_t watch_events = 0;   // of these kinds (proto::event_bit bits; 0 = all)
};

class RequestHandler {
 public:
  // `ping_fields`: what gmmd adds to ping replies (its doorbell), if anything.
  explicit RequestHandler(Node& node, std::function<nlohmann::json()> ping_fields = {})
      : node_(node), ping_fields_(std::move(ping_fields)) {}

  // Never fails: bad requests and core errors become error replies.
  Handled handle_line(std::string_view line);

 private:
  Result<nlohmann::json> dispatch(const proto::Request& request);
  // The section's bytes [offset, offset + length), if this node shares it.
  Result<std::span<std::byte>> shared_range(const std::string& name, std::uint64_t offset, std::uint64_t length);

  Node& node_;
  std::function<nlohmann::json()> ping_fields_;
};

}  // namespace gmm::gmmd
