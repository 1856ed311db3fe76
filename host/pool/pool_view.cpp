#include "pool/pool_view.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "file/file_pool.hpp"
#include "gmm/atomic.hpp"
#include "gmm/clock.hpp"
#include "gmm/fencing.hpp"
#include "gmm/membership.hpp"

namespace gmm::host {
namespace {

using namespace layout;
using nlohmann::json;

std::uint64_t bit(std::uint32_t node) { return std::uint64_t{1} << node; }

double ms_between(std::uint64_t from_ns, std::uint64_t to_ns) {
  return (static_cast<double>(to_ns) - static_cast<double>(from_ns)) / 1e6;
}

std::optional<double> ms_since_declared(const RecoveryRecord& record, std::uint64_t ns) {
  if (ns == 0) return std::nullopt;
  return ms_between(record.declared_ns, ns);
}

// Newest first, only records still in the ring, until `match` accepts one.
template <class Match>
std::optional<RecoveryRecord> scan_records(const Pool& pool, Match&& match) {
  const std::uint64_t events = load_acquire(pool.cluster().events);
  for (std::uint64_t seq = events; seq > 0 && events - seq < kRecoveryRecords; --seq) {
    RecoveryRecord copy = copy_record(pool.recovery(seq));
    if (copy.sequence == seq && match(copy)) return copy;
  }
  return std::nullopt;
}

std::string ms_text(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", ms);
  return text;
}

json optional_json(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

}  // namespace

Result<MappedPool> map_pool(const std::string& path) {
  auto mapping = map_pool_file(path);
  if (!mapping) return make_error(mapping.error().code, "cannot map " + path + ": " + mapping.error().message);
  auto pool = Pool::attach(**mapping);
  if (!pool) return make_error(pool.error().code, "cannot attach " + path + ": " + pool.error().message);
  return MappedPool{std::move(*mapping), *pool};
}

std::string_view node_state_name(NodeState state) {
  switch (state) {
    case NodeState::kAbsent: return "absent";
    case NodeState::kJoining: return "joining";
    case NodeState::kMember: return "member";
    case NodeState::kFailed: return "failed";
  }
  return "unknown";
}

SlotView read_slot(const Pool& pool, std::uint32_t node) {
  const NodeSlot& slot = pool.node_slot(node);
  SlotView view;
  view.node = node;
  view.state = load_state<NodeState>(slot.state);
  view.incarnation = load_acquire(slot.incarnation);
  view.heartbeat = load_acquire(slot.heartbeat);
  std::uint64_t beat_ns = load_acquire(slot.heartbeat_ns);
  if (beat_ns != 0) view.heartbeat_age_ms = ms_between(beat_ns, realtime_ns());
  view.memory_lost = pool.partition_lost(node);
  view.fenced = view.incarnation != 0 && load_acquire(slot.fenced) >= view.incarnation &&
                view.state != NodeState::kMember && view.state != NodeState::kJoining;
  return view;
}

WatcherView read_watcher(const Pool& pool) {
  WatcherView view;
  const std::uint64_t now = realtime_ns();
  const std::uint64_t beat = load_acquire(pool.cluster().watcher_beat_ns);
  if (beat != 0) view.beat_age_ms = ms_between(beat, now);
  view.pid = load_acquire(pool.cluster().watcher_pid);
  view.running = watcher_running(pool, now);
  return view;
}

MembershipView read_membership(const Pool& pool) {
  const ClusterHeader& cluster = pool.cluster();
  MembershipView view;
  for (std::uint32_t node = 0; node < pool.node_count(); ++node) view.slots.push_back(read_slot(pool, node));
  view.view_epoch = load_acquire(cluster.view_epoch);
  view.members = load_acquire(cluster.members);
  view.dir_primary = load_acquire(cluster.dir_primary);
  view.dir_replica = load_acquire(cluster.dir_replica);
  view.lost_partitions = node_list(load_acquire(cluster.lost_partitions));
  return view;
}

std::optional<RecoveryRecord> find_record(const Pool& pool, EventKind kind, std::uint32_t node,
                                          std::uint32_t incarnation) {
  return scan_records(pool, [&](const RecoveryRecord& record) {
    return static_cast<EventKind>(record.kind) == kind && record.node == node && record.incarnation == incarnation;
  });
}

std::optional<RecoveryRecord> newest_record(const Pool& pool, EventKind kind) {
  return scan_records(pool, [&](const RecoveryRecord& record) { return static_cast<EventKind>(record.kind) == kind; });
}

bool record_complete(const RecoveryRecord& record, std::uint64_t members_now) {
  const std::uint64_t expected = record.survivors & members_now;
  return record.tables_recovered_ns != 0 && (record.done & expected) == expected;
}

FailureReport failure_report(const RecoveryRecord& record, const std::vector<Injection>& injections,
                             std::uint64_t members_now, bool host_clock) {
  FailureReport report;
  report.node = record.node;
  report.incarnation = record.incarnation;
  report.sequence = record.sequence;
  report.injection = injection_for(injections, record);
  if (report.injection) report.detection_ms = ms_between(report.injection->injected_ns, record.declared_ns);
  if (report.injection && host_clock) {
    report.host_clock_detection_ms = report.detection_ms;
  } else if (report.injection && record.host_seen_ns != 0) {
    report.host_clock_detection_ms = ms_between(report.injection->injected_ns, record.host_seen_ns);
  }
  report.detected_by = record.detected_by == static_cast<std::uint32_t>(DetectedBy::kHost) ? "host" : "heartbeat";
  switch (static_cast<FenceOutcome>(record.fence)) {
    case FenceOutcome::kFenced: report.fence = "fenced"; break;
    case FenceOutcome::kGaveUp: report.fence = "gave-up"; break;
    case FenceOutcome::kNone: break;
  }
  if (record.last_beat_ns != 0) report.silence_ms = ms_between(record.last_beat_ns, record.declared_ns);
  report.tables_recovered_ms = ms_since_declared(record, record.tables_recovered_ns);
  report.fenced_ms = ms_since_declared(record, record.fenced_ns);
  std::uint64_t last_finished = 0;
  for (std::uint32_t node : node_list(record.done & record.survivors)) {
    last_finished = std::max(last_finished, record.finished_ns[node]);
  }
  report.recovery_ms = ms_since_declared(record, last_finished);
  report.survivors = node_list(record.survivors);
  report.done = node_list(record.done & record.survivors);
  report.complete = record_complete(record, members_now);
  return report;
}

json failure_json(const FailureReport& report) {
  return json{{"node", report.node},
              {"incarnation", report.incarnation},
              {"sequence", report.sequence},
              {"how", report.injection ? json(crash_how_name(report.injection->how)) : json(nullptr)},
              {"detection_ms", optional_json(report.detection_ms)},
              {"host_clock_detection_ms", optional_json(report.host_clock_detection_ms)},
              {"detected_by", report.detected_by},
              {"fence", report.fence.empty() ? json(nullptr) : json(report.fence)},
              {"fenced_ms", optional_json(report.fenced_ms)},
              {"silence_ms", optional_json(report.silence_ms)},
              {"tables_recovered_ms", optional_json(report.tables_recovered_ms)},
              {"recovery_ms", optional_json(report.recovery_ms)},
              {"survivors", report.survivors},
              {"done", report.done},
              {"complete", report.complete}};
}

std::string failure_text(const FailureReport& report) {
  std::string text = "node " + std::to_string(report.node) + " failed: ";
  // On the host's clock where there is one (VM mode: detection_ms takes the
  // declaration's time from a guest's clock).
  if (const auto& detection = report.host_clock_detection_ms ? report.host_clock_detection_ms : report.detection_ms) {
    text += "detected in " + ms_text(*detection) + " (" + report.detected_by + ")";
  } else if (report.silence_ms) {
    text += "declared " + ms_text(*report.silence_ms) + " after its last heartbeat (not injected by gmm-host)";
  } else {
    text += "declared (not injected by gmm-host)";
  }
  if (!report.fence.empty()) text += report.fence == "fenced" ? ", fenced" : ", fence gave up";
  if (!report.tables_recovered_ms) return text + ", recovery in progress";
  if (!report.complete) {
    return text + ", tables recovered in " + ms_text(*report.tables_recovered_ms) + ", survivors finishing";
  }
  text += ", recovered in " + (report.recovery_ms ? ms_text(*report.recovery_ms) : std::string("?"));
  return text + " (tables " + ms_text(*report.tables_recovered_ms) + ")";
}

std::vector<std::uint32_t> node_list(std::uint64_t mask) {
  std::vector<std::uint32_t> nodes;
  for (std::uint32_t node = 0; node < kMaxNodes; ++node) {
    if (mask & bit(node)) nodes.push_back(node);
  }
  return nodes;
}

std::string node_list_text(std::uint64_t mask) {
  std::string text;
  for (std::uint32_t node : node_list(mask)) text += (text.empty() ? "" : ",") + std::to_string(node);
  return text.empty() ? "none" : text;
}

bool poll_until(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace gmm::host
