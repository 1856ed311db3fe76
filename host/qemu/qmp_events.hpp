// A node's QMP events as liveness events: STOP, RESUME, GUEST_PANICKED and
// SHUTDOWN, with QEMU's own timestamps. Read from the node's second QMP
// monitor (DIR/nodeK.events, qemu_command.hpp), so a watcher never holds the
// monitor that pause, resume and status use (QEMU serves one client per
// monitor).
#pragma once

#include <cstdint>
#include <optional>

#include "launcher/liveness.hpp"
#include "qmp.hpp"

namespace gmm::host {

// When QEMU says the event happened (the host's CLOCK_REALTIME, ns);
// nullopt if QEMU could not read its clock.
std::optional<std::uint64_t> qmp_time_ns(const vm::QmpEvent& event);

// The liveness event a QMP event means; nullopt for the ones that say
// nothing about liveness.
std::optional<NodeEvent> liveness_event(std::uint32_t node, const vm::QmpEvent& event);

class QmpEventSource : public EventSource {
 public:
  QmpEventSource(std::uint32_t node, vm::QmpClient qmp) : node_(node), qmp_(std::move(qmp)) {}
  int fd() const override { return qmp_.fd(); }
  // Ends when QEMU closes the monitor (it exits; the pidfd reports that).
  Read read() override;

 private:
  std::uint32_t node_;
  vm::QmpClient qmp_;
};

}  // namespace gmm::host
