// A scenario: a declarative fault-injection experiment (YAML). It names the
// cluster, the steps run on nodes, the faults, and what must hold
// afterwards. `gmm-host scenario FILE` runs it (runner.hpp).
//
//   name: kill-a-sharer
//   cluster: {mode: proc, nodes: 4, pool_size: 256M, heartbeat_ms: 20, miss_threshold: 10}
//   steps:
//     - {on: 0, run: "gmmctl alloc orders 1M --on 2"}
//     - {on: 3, run: "gmmctl read orders 0 5", expect_output: hello}
//     - {on: 1, run: "gmmctl open nothing", expect_exit: nonzero}
//     - {crash: 2, how: kill}            # kill | pause | panic (vm)
//     - {wait_recovered: 2, within_ms: 5000}
//     - {resume: 2} / {restart: 2} / {leave: 1} / {lose_memory: 3}
//     - {fsck: clean}
//     - {sleep_ms: 100}
//   checks:                              # after the steps, same syntax
//     - {fsck: clean}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gmm/result.hpp"

namespace gmm::host {

struct ScenarioStep {
  enum class Kind { kRun, kCrash, kResume, kRestart, kLeave, kLoseMemory, kWaitRecovered, kFsck, kSleep };
  Kind kind = Kind::kRun;
  std::string name;                 // shown in progress lines and reports
  std::uint32_t node = 0;
  std::vector<std::string> argv;    // kRun: the command run on `node`
  std::string how = "kill";         // kCrash
  std::optional<std::string> expect_output;  // kRun: must appear in stdout
  bool expect_failure = false;      // kRun: exit status must be non-zero
  std::uint64_t within_ms = 10'000;  // kWaitRecovered: give up after
  std::uint64_t sleep_ms = 0;
};

struct Scenario {
  std::string name;
  std::string description;
  std::string mode = "proc";
  std::uint32_t nodes = 4;
  std::string pool_size = "256M";
  std::optional<std::uint32_t> heartbeat_ms, miss_threshold;
  std::vector<ScenarioStep> steps;
  std::vector<ScenarioStep> checks;
};

// Errors: kInvalidArgument with the file, the step index and what is wrong.
Result<Scenario> load_scenario(const std::string& path);
Result<Scenario> parse_scenario(const std::string& yaml_text, const std::string& origin);

// Splits a command line on blanks, honouring "double" and 'single' quotes.
Result<std::vector<std::string>> split_command(const std::string& line);

}  // namespace gmm::host
