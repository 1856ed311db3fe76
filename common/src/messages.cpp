#include "gmm/messages.hpp"

#include <time.h>

#include <bit>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "gmm/atomic.hpp"
#include "gmm/clock.hpp"

namespace gmm {
using namespace layout;

namespace {
// A claimed but unpublished position older than this belongs to a sender
// that died mid-send (a live sender publishes within microseconds).
constexpr std::uint64_t kStaleClaimNs = 500'000'000;
}  // namespace

bool PollingDoorbell::wait(std::chrono::microseconds timeout) {
  std::this_thread::sleep_for(timeout);
  return false;
}

Messenger::Messenger(const Pool& pool, std::uint32_t self, Doorbell& doorbell)
    : pool_(pool), self_(self), doorbell_(doorbell) {}

Status Messenger::send(std::uint32_t to, std::uint32_t kind, std::span<const std::uint8_t> payload) {
  if (to >= pool_.node_count())
    return make_error(Errc::kInvalidArgument, fmt::format("node {} does not exist", to));
  if (payload.size() > kMessagePayload)
    return make_error(Errc::kInvalidArgument,
                      fmt::format("message payload is {} bytes, the limit is {}", payload.size(), kMessagePayload));
  Mailbox& box = pool_.mailbox(to);
  std::uint64_t position = load_acquire(box.tail);
  do {
    if (position - load_acquire(box.head) >= kMailboxSlots) {
      fetch_add_acq_rel(box.refused, std::uint64_t{1});
      return make_error(Errc::kBusy, fmt::format("the mailbox of node {} is full", to));
    }
  } while (!cas_acq_rel(box.tail, position, position + 1));
  Message& m = box.slots[position % kMailboxSlots];
  store_relaxed(m.from, self_);
  store_relaxed(m.kind, kind);
  store_relaxed(m.sent_ns, realtime_ns());
  std::uint8_t bytes[kMessagePayload] = {};
  if (!payload.empty()) std::memcpy(bytes, payload.data(), payload.size());
  for (std::uint32_t i = 0; i < kMessagePayload; ++i) store_relaxed(m.payload[i], bytes[i]);
  store_release(m.sequence, position + 1);  // publish last
  doorbell_.ring(to, kDoorbellVector);
  return ok_status();
}

Status Messenger::multicast(std::uint64_t nodes, std::uint32_t kind, std::span<const std::uint8_t> payload) {
  Status first = ok_status();
  nodes &= ~(std::uint64_t{1} << self_);
  while (nodes != 0) {
    const auto to = static_cast<std::uint32_t>(std::countr_zero(nodes));
    nodes &= nodes - 1;
    if (to >= pool_.node_count()) break;
    if (auto sent = send(to, kind, payload); !sent && first) first = sent;
  }
  return first;
}

Status Messenger::broadcast(std::uint32_t kind, std::span<const std::uint8_t> payload) {
  return multicast(load_acquire(pool_.cluster().members), kind, payload);
}

std::optional<ReceivedMessage> Messenger::receive() {
  Mailbox& box = pool_.mailbox(self_);
  const std::uint64_t head = load_relaxed(box.head);
  if (head == load_acquire(box.tail)) return std::nullopt;
  Message& m = box.slots[head % kMailboxSlots];
  if (load_acquire(m.sequence) != head + 1) {
    // Claimed, not yet published: wait a little, then give up on it.
    const std::uint64_t now = realtime_ns();
    if (waiting_since_ns_ == 0) waiting_since_ns_ = now;
    if (now - waiting_since_ns_ < kStaleClaimNs) return std::nullopt;
    waiting_since_ns_ = 0;
    fetch_add_acq_rel(box.skipped, std::uint64_t{1});
    store_release(box.head, head + 1);
    return receive();
  }
  waiting_since_ns_ = 0;
  ReceivedMessage out;
  out.from = load_relaxed(m.from);
  out.kind = load_relaxed(m.kind);
  out.sent_ns = load_relaxed(m.sent_ns);
  for (std::uint32_t i = 0; i < kMessagePayload; ++i) out.payload[i] = load_relaxed(m.payload[i]);
  out.length = kMessagePayload;
  while (out.length > 0 && out.payload[out.length - 1] == 0) --out.length;
  store_release(box.head, head + 1);  // frees the slot for producers
  return out;
}

void Messenger::discard_pending() {
  Mailbox& box = pool_.mailbox(self_);
  store_release(box.head, load_acquire(box.tail));
  waiting_since_ns_ = 0;
}

}  // namespace gmm
