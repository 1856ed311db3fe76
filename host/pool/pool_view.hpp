// What the host reads from the pool about membership and recovery: node
// slots, directory copies, lost memory and the recovery records with their
// timing. The same in every mode (the host maps the pool file the nodes
// share); every shared word is read with an atomic load, no lock is taken.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/faults.hpp"
#include "gmm/layout.hpp"
#include "gmm/pool.hpp"
#include "gmm/result.hpp"

namespace gmm::host {

struct MappedPool {
  std::unique_ptr<PoolMapping> mapping;
  Pool pool;  // views `mapping`
};
// Errors: "cannot map PATH: ..." / "cannot attach PATH: ...".
Result<MappedPool> map_pool(const std::string& path);

std::string_view node_state_name(layout::NodeState state);  // absent, joining, member, failed

struct SlotView {
  std::uint32_t node = 0;
  layout::NodeState state = layout::NodeState::kAbsent;
  std::uint32_t incarnation = 0;
  std::uint64_t heartbeat = 0;
  std::optional<double> heartbeat_age_ms;  // nullopt if it never beat
  bool memory_lost = false;
  // The host watcher stopped this incarnation's processes for good and it
  // has not rejoined since (`restart` brings it back).
  bool fenced = false;
};
SlotView read_slot(const Pool& pool, std::uint32_t node);

struct MembershipView {
  std::vector<SlotView> slots;  // one per node of the pool
  std::uint64_t view_epoch = 0;
  std::uint64_t members = 0;  // bitmask
  std::uint32_t dir_primary = layout::kNoNode;
  std::uint32_t dir_replica = layout::kNoNode;
  std::vector<std::uint32_t> lost_partitions;
};
MembershipView read_membership(const Pool& pool);

// The host watcher as the pool shows it: its beat's age on our clock
// (nullopt: it never beat, or stopped in order) and its pid.
struct WatcherView {
  std::optional<double> beat_age_ms;
  std::uint64_t pid = 0;
  bool running = false;  // its beat is within the lease (gmm/fencing.hpp)
};
WatcherView read_watcher(const Pool& pool);

// A consistent-enough copy of a live record (each word loaded atomically);
// nullopt when the ring has no record of `kind` for that node incarnation.
std::optional<layout::RecoveryRecord> find_record(const Pool& pool, layout::EventKind kind, std::uint32_t node,
                                                  std::uint32_t incarnation);
// The newest record of `kind`, nullopt when there is none.
std::optional<layout::RecoveryRecord> newest_record(const Pool& pool, layout::EventKind kind);
// Tables recovered and every survivor that is still a member has finished.
bool record_complete(const layout::RecoveryRecord& record, std::uint64_t members_now);

// A failure and how long the cluster took with it (all in ms from the
// record's declared_ns; the paper's recovery time is declared -> last
// survivor finished, detection time is injection -> declared).
struct FailureReport {
  std::uint32_t node = 0;
  std::uint32_t incarnation = 0;
  std::uint64_t sequence = 0;
  std::optional<Injection> injection;  // what the host did, if the host caused it
  std::optional<double> detection_ms;  // declared - injected
  // injected -> declared on the host's clock: the record's own time where
  // the nodes' clock is the host's (process mode), else when the host
  // watcher saw the declaration (VM guests' clocks differ by tens of ms;
  // nullopt without a watcher).
  std::optional<double> host_clock_detection_ms;
  std::string detected_by;             // "host" (the watcher's notice) or "heartbeat"
  std::string fence;                   // "fenced", "gave-up", or "" (no fence)
  std::optional<double> fenced_ms;     // the watcher's fence, from declared (one clock in process mode only)
  std::optional<double> silence_ms;    // declared - last heartbeat seen
  std::optional<double> tables_recovered_ms;
  std::optional<double> recovery_ms;   // latest finished_ns of the survivors that finished
  std::vector<std::uint32_t> survivors;
  std::vector<std::uint32_t> done;
  bool complete = false;
};
// `host_clock`: the record's times are on the host's clock (process mode);
// then host_clock_detection_ms is declared - injected, not the watcher's view.
FailureReport failure_report(const layout::RecoveryRecord& record, const std::vector<Injection>& injections,
                             std::uint64_t members_now, bool host_clock = false);
nlohmann::json failure_json(const FailureReport& report);
// "node 2 failed: detected in 63.1 ms, recovered in 0.9 ms (tables 0.4 ms)"
std::string failure_text(const FailureReport& report);

std::vector<std::uint32_t> node_list(std::uint64_t mask);
std::string node_list_text(std::uint64_t mask);  // "0,1,3" or "none"

// Polls `done` every few ms until it holds (true) or `timeout` passes (false).
bool poll_until(std::chrono::milliseconds timeout, const std::function<bool()>& done);

}  // namespace gmm::host
