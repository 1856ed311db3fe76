// A scenario: a declarative fault-injection experiment (YAML). It names the
// cluster, the steps run on nodes, the faults, and what must hold
// afterwards. `gmm-host scenario FILE` runs it (runner.hpp); scenarios/README.md
// lists the project's scenarios.
//
//   name: kill-a-sharer
//   cluster: {mode: proc, nodes: 4, pool_size: 256M, heartbeat_ms: 20, miss_threshold: 10,
//             detector: both,                          # host | heartbeat | both (the default)
//             crash_at: {3: alloc.extent_carved}}    # node 3's gmmd dies there
//   steps:
//     - {on: 0, run: "gmmctl alloc orders 1M --on 2"}
//     - {on: 3, run: "gmmctl read orders 0 5", expect_output: hello}
//     - {on: 1, run: "gmmctl open nothing", expect_exit: nonzero}
//     - {crash: 2, how: kill}            # kill | pause | panic (vm)
//     - {wait_recovered: 2, within_ms: 5000}   # a failure of node 2 newer than the
//                                              # last one a wait_recovered saw
//     - {resume: 2} / {restart: 2} / {leave: 1} / {lose_memory: 3}
//     - {restart: 2, crash_at: "alloc.committing:2"}
//     - {directory: {primary: 0, replica: 1}} / {directory: {not_on: 0}}
//     - {members: [0, 1, 3]}             # exactly these nodes are members
//     - {fenced: [2]}                    # the watcher stopped node 2 for good (status nodes[].fenced)
//     - {console: 2, input: "uname -r", expect_output: amd64}   # vm: gmm-host console --batch
//     - {fsck: clean}
//     - {sleep_ms: 100}
//   checks:                              # after the steps, same syntax
//     - {fsck: clean}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gmm/result.hpp"

namespace gmm::host {

struct ScenarioStep {
  enum class Kind {
    kRun, kCrash, kResume, kRestart, kLeave, kLoseMemory, kWaitRecovered, kFsck, kSleep, kDirectory, kMembers, kConsole,
    kFenced
  };
  Kind kind = Kind::kRun;
  std::string name;                 // shown in progress lines and reports
  std::uint32_t node = 0;
  std::vector<std::string> argv;    // kRun: the command run on `node`
  std::string input;                // kConsole: the script typed into the console
  std::string how = "kill";         // kCrash
  std::string crash_at;             // kRestart: POINT[:N][:ACTION] for the new gmmd ("" = none)
  std::optional<std::string> expect_output;  // kRun, kConsole: must appear in stdout
  bool expect_failure = false;      // kRun, kConsole: exit status must be non-zero
  std::optional<std::uint32_t> primary, replica, not_on;  // kDirectory
  std::vector<std::uint32_t> members;                     // kMembers; kFenced: the nodes that must be fenced
  std::uint64_t within_ms = 10'000;  // kWaitRecovered, kFenced: give up after
  std::uint64_t sleep_ms = 0;
};

struct Scenario {
  std::string name;
  std::string description;
  std::string mode = "proc";
  std::uint32_t nodes = 4;
  std::string pool_size = "256M";
  std::optional<std::uint32_t> heartbeat_ms, miss_threshold;
  std::optional<std::string> detector;  // up --detector host|heartbeat|both (default both)
  std::vector<std::pair<std::uint32_t, std::string>> crash_at;  // up --crash-at NODE=POINT[:N][:ACTION]
  std::vector<ScenarioStep> steps;
  std::vector<ScenarioStep> checks;
};

// Errors: kInvalidArgument with the file, the step index and what is wrong.
Result<Scenario> load_scenario(const std::string& path);
Result<Scenario> parse_scenario(const std::string& yaml_text, const std::string& origin);

// Splits a command line on blanks, honouring "double" and 'single' quotes.
Result<std::vector<std::string>> split_command(const std::string& line);

}  // namespace gmm::host
