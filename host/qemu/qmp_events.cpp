#include "qemu/qmp_events.hpp"

#include "gmm/clock.hpp"

namespace gmm::host {

std::optional<std::uint64_t> qmp_time_ns(const vm::QmpEvent& event) {
  if (event.seconds < 0) return std::nullopt;
  return static_cast<std::uint64_t>(event.seconds) * 1'000'000'000ull +
         static_cast<std::uint64_t>(event.microseconds) * 1000ull;
}

std::optional<NodeEvent> liveness_event(std::uint32_t node, const vm::QmpEvent& event) {
  NodeEvent liveness;
  liveness.node = node;
  if (event.name == "STOP") {
    liveness.kind = NodeEventKind::kStopped;
  } else if (event.name == "RESUME") {
    liveness.kind = NodeEventKind::kResumed;
  } else if (event.name == "GUEST_PANICKED") {
    liveness.kind = NodeEventKind::kPanicked;
    if (event.data.is_object()) liveness.detail = "action " + event.data.value("action", std::string("?"));
  } else if (event.name == "SHUTDOWN") {
    liveness.kind = NodeEventKind::kShutdown;
    if (event.data.is_object()) liveness.detail = event.data.value("reason", std::string());
  } else {
    return std::nullopt;
  }
  liveness.time_ns = qmp_time_ns(event).value_or(realtime_ns());
  return liveness;
}

EventSource::Read QmpEventSource::read() {
  Read read;
  auto events = qmp_.read_events();
  if (!events) {
    read.ended = true;
    return read;
  }
  for (const vm::QmpEvent& event : *events) {
    if (auto liveness = liveness_event(node_, event)) read.events.push_back(std::move(*liveness));
  }
  return read;
}

}  // namespace gmm::host
