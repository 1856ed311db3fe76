// Inter-node communication (paper 3.1): short messages point-to-point,
// multicast and broadcast, through per-node mailboxes in the pool plus a
// doorbell so that the receiver wakes at once instead of polling.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "gmm/layout.hpp"
#include "gmm/platform.hpp"
#include "gmm/pool.hpp"
#include "gmm/result.hpp"

namespace gmm {

// Kinds GMM itself sends; applications use kinds >= kFirstApplicationMessage.
enum class MessageKind : std::uint32_t {
  kViewChanged = 1,  // a membership event was recorded: look at the records now
  kPing = 2,
};
inline constexpr std::uint32_t kFirstApplicationMessage = 1024;
inline constexpr std::uint32_t kDoorbellVector = 0;

struct ReceivedMessage {
  std::uint32_t from = 0;
  std::uint32_t kind = 0;
  std::uint64_t sent_ns = 0;
  std::uint32_t length = 0;
  std::uint8_t payload[layout::kMessagePayload] = {};
  std::string_view text() const { return {reinterpret_cast<const char*>(payload), length}; }
};

// Threads: send/multicast/broadcast from any thread (slots are claimed by
// CAS, as concurrent senders on other nodes do; Doorbell::ring is
// thread-safe); receive/discard_pending from one thread only, the node's
// single mailbox consumer (gmmd's agent thread).
class Messenger {
 public:
  Messenger(const Pool& pool, std::uint32_t self, Doorbell& doorbell);

  // Errors: kInvalidArgument (payload over kMessagePayload bytes, bad node),
  // kBusy (the receiver's mailbox is full: it is not reading).
  Status send(std::uint32_t to, std::uint32_t kind, std::span<const std::uint8_t> payload);
  // To every node in `nodes` except this one; the first error, after trying all.
  Status multicast(std::uint64_t nodes, std::uint32_t kind, std::span<const std::uint8_t> payload);
  // To every current member except this one.
  Status broadcast(std::uint32_t kind, std::span<const std::uint8_t> payload);

  // Next message for this node, if any. A position claimed by a sender that
  // never published it (it died mid-send) is skipped after `stale_after`.
  std::optional<ReceivedMessage> receive();
  // Drops whatever is queued (a rejoining node starts afresh).
  void discard_pending();

  Doorbell& doorbell() { return doorbell_; }

 private:
  const Pool& pool_;
  std::uint32_t self_;
  Doorbell& doorbell_;
  std::uint64_t waiting_since_ns_ = 0;  // when receive() first found the head unpublished
};

}  // namespace gmm
