// `gmmctl watch`: subscribe to this node's application-phase events (paper
// 3.7: how applications hear about failures) and print one line per event.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "gmm/result.hpp"

namespace gmm::gmmctl {

struct WatchOptions {
  std::string socket;
  std::chrono::milliseconds reply_timeout{30'000};  // for gmmd's answer to `watch`
  std::uint64_t count = 0;                          // stop after this many events; 0 = never
  std::chrono::milliseconds timeout{0};             // give up after this long; 0 = never
  std::uint32_t events = 0;                         // proto::event_bit bits wanted; 0 = all
  bool json = false;                                // print the protocol's JSON lines as they come
};

// Prints "watching ..." on stderr once subscribed, then each event on
// stdout. Errors: kIo (cannot connect, connection lost, malformed event),
// kBusy (the timeout passed first; the message says how many came).
Status watch_events(const WatchOptions& options);

}  // namespace gmm::gmmctl
