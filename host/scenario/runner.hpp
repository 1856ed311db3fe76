// Runs a scenario against a fresh cluster by driving gmm-host's own command
// line (the contract every outside script uses): up, exec, crash, resume,
// restart, leave, lose-memory, status, fsck, down. It prints one progress
// line per step and returns what a report needs.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenario.hpp"

namespace gmm::host {

struct StepResult {
  std::string name;
  enum class Outcome { kPassed, kFailed, kSkipped } outcome = Outcome::kSkipped;
  double seconds = 0;
  std::string message;  // why it failed
  std::string output;   // what the command printed (trimmed)
};

struct ScenarioResult {
  std::string name;
  std::vector<StepResult> steps;  // "form the cluster", the steps, the checks
  double seconds = 0;
  nlohmann::json last_failure;    // from `gmm-host status --json`, null if none
  nlohmann::json failures = nlohmann::json::array();  // each failure a wait_recovered step saw recovered
  bool passed() const;
};

struct RunOptions {
  std::string gmm_host;  // path of the gmm-host binary to drive
  std::string dir;       // cluster directory
  std::string mode;      // overrides the scenario's cluster.mode when not empty
};

ScenarioResult run_scenario(const Scenario& scenario, const RunOptions& options, std::ostream& progress);

nlohmann::json report_json(const ScenarioResult& result);
std::string report_junit(const ScenarioResult& result);

}  // namespace gmm::host
