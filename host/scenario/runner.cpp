#include "runner.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <ostream>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "run_process.hpp"

namespace gmm::host {

namespace {

using Clock = std::chrono::steady_clock;
using Outcome = StepResult::Outcome;

std::string tail(const std::string& text, std::size_t max = 2000) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t.size() > max ? "..." + t.substr(t.size() - max) : t;
}

// Faults and rejoins under TCG on a loaded host: generous, the scenario's
// own bounds (within_ms) are what it checks.
constexpr const char* kPatience = "--timeout=120";

// "node 1 failed: detected in 2024 ms, recovered in 85 ms" from a status --json last_failure.
std::string failure_line(const nlohmann::json& f) {
  auto ms = [&](const char* key) {
    const auto v = f.value(key, nlohmann::json());
    return v.is_number() ? fmt::format("{:.0f} ms", v.get<double>()) : std::string("-");
  };
  // The host's clock when the watcher saw it: in VM mode detection_ms
  // subtracts the host's injection time from a guest's clock.
  const char* detection = f.value("host_clock_detection_ms", nlohmann::json()).is_number() ? "host_clock_detection_ms"
                                                                                          : "detection_ms";
  std::string detected = f.value(detection, nlohmann::json()).is_number()
                             ? "detected in " + ms(detection)
                             : "declared " + ms("silence_ms") + " after its last heartbeat (not injected by the host)";
  return fmt::format("node {} failed: {}, recovered in {}", f.value("node", -1), detected, ms("recovery_ms"));
}

class Runner {
 public:
  Runner(const Scenario& s, const RunOptions& o, std::ostream& progress)
      : scenario_(s), options_(o), progress_(progress), mode_(o.mode.empty() ? s.mode : o.mode) {}

  ScenarioResult run() {
    const auto start = Clock::now();
    result_.name = scenario_.name;
    total_ = 1 + scenario_.steps.size() + scenario_.checks.size() + 1;
    progress_ << fmt::format("scenario {} ({} mode, {} nodes): {} steps\n", scenario_.name, mode_, scenario_.nodes,
                             total_);
    bool ok = step("form the cluster", [&] { return up(); });
    for (const auto& s : scenario_.steps) ok = ok ? execute(s) : skip(s.name);
    for (const auto& s : scenario_.checks) ok = ok ? execute(s) : skip(s.name);
    if (auto status = gmm_host({"status", "--json"}); status.status == 0) {
      try {
        result_.last_failure = nlohmann::json::parse(status.out).value("last_failure", nlohmann::json());
      } catch (const nlohmann::json::exception&) {
      }
    }
    step("tear the cluster down", [&] { return expect_success(gmm_host({"down"}), "down"); });
    result_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    summary();
    return std::move(result_);
  }

 private:
  ProcessResult gmm_host(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(300)) {
    args.insert(args.begin(), {options_.gmm_host, "--dir", options_.dir});
    return run_process(args, timeout);
  }

  StepResult expect_success(const ProcessResult& r, const std::string& what) {
    StepResult s;
    s.output = tail(r.out + r.err);
    s.outcome = r.status == 0 ? Outcome::kPassed : Outcome::kFailed;
    if (r.status != 0) s.message = fmt::format("{} exited with status {}", what, r.status);
    return s;
  }

  StepResult up() {
    std::vector<std::string> args{"up", "--mode", mode_, "--nodes", std::to_string(scenario_.nodes), "--pool-size",
                                  scenario_.pool_size};
    if (scenario_.heartbeat_ms) args.insert(args.end(), {"--heartbeat-ms", std::to_string(*scenario_.heartbeat_ms)});
    if (scenario_.miss_threshold)
      args.insert(args.end(), {"--miss-threshold", std::to_string(*scenario_.miss_threshold)});
    for (const auto& [node, spec] : scenario_.crash_at)
      args.insert(args.end(), {"--crash-at", std::to_string(node) + "=" + spec});
    if (scenario_.detector) args.insert(args.end(), {"--detector", *scenario_.detector});
    return expect_success(gmm_host(args, std::chrono::seconds(600)), "gmm-host up");
  }

  StepResult run_on_node(const ScenarioStep& s) {
    std::vector<std::string> args{"exec", std::to_string(s.node), "--"};
    args.insert(args.end(), s.argv.begin(), s.argv.end());
    return judge(s, gmm_host(args));
  }

  StepResult wait_recovered(const ScenarioStep& s) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(s.within_ms);
    std::string last;
    while (Clock::now() < deadline) {
      const ProcessResult r = gmm_host({"status", "--json"});
      last = r.out + r.err;
      try {
        const auto f = nlohmann::json::parse(r.out).value("last_failure", nlohmann::json());
        if (f.is_object() && f.value("node", -1) == static_cast<int>(s.node) &&
            f.value("sequence", std::uint64_t{0}) > recovered_sequence_ && f.contains("recovery_ms") &&
            !f["recovery_ms"].is_null()) {
          recovered_sequence_ = f.value("sequence", std::uint64_t{0});
          result_.failures.push_back(f);
          StepResult ok;
          ok.outcome = Outcome::kPassed;
          ok.output = failure_line(f);
          return ok;
        }
      } catch (const nlohmann::json::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    StepResult failed;
    failed.outcome = Outcome::kFailed;
    failed.message = fmt::format("node {} was not recovered within {} ms", s.node, s.within_ms);
    failed.output = tail(last);
    return failed;
  }

  // `gmm-host status --json`, whatever its exit status (1 while a node is down).
  Result<nlohmann::json> status_json() {
    const ProcessResult r = gmm_host({"status", "--json"});
    try {
      return nlohmann::json::parse(r.out);
    } catch (const nlohmann::json::exception&) {
      return make_error(Errc::kIo, "gmm-host status --json printed no JSON: " + tail(r.out + r.err));
    }
  }

  StepResult check_directory(const ScenarioStep& s) {
    StepResult out;
    auto status = status_json();
    if (!status) return failed(status.error().message);
    const auto directory = status->value("directory", nlohmann::json::object());
    const int primary = directory.value("primary", -1), replica = directory.value("replica", -1);
    out.output = fmt::format("primary on node {}, replica on node {}", primary, replica);
    out.outcome = Outcome::kPassed;
    if ((s.primary && primary != static_cast<int>(*s.primary)) || (s.replica && replica != static_cast<int>(*s.replica)) ||
        (s.not_on && (primary == static_cast<int>(*s.not_on) || replica == static_cast<int>(*s.not_on)))) {
      out.outcome = Outcome::kFailed;
      out.message = "the directory is elsewhere: " + out.output;
    }
    return out;
  }

  StepResult check_members(const ScenarioStep& s) {
    auto status = status_json();
    if (!status) return failed(status.error().message);
    std::vector<std::uint32_t> members = status->value("members", std::vector<std::uint32_t>{});
    std::sort(members.begin(), members.end());
    StepResult out;
    out.output = fmt::format("members {}", fmt::join(members, ","));
    out.outcome = members == s.members ? Outcome::kPassed : Outcome::kFailed;
    if (members != s.members) out.message = "the " + out.output + ", expected " + fmt::format("{}", fmt::join(s.members, ","));
    return out;
  }

  // Every node named is fenced (the watcher stopped its processes for
  // good) and not running; waits up to within_ms for the fence.
  StepResult check_fenced(const ScenarioStep& s) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(s.within_ms);
    std::string seen;
    for (;;) {
      auto status = status_json();
      if (!status) return failed(status.error().message);
      bool all = true;
      seen.clear();
      for (std::uint32_t n : s.members) {
        const nlohmann::json& node = status->at("nodes").at(n);
        const bool fenced = node.value("fenced", false) && !node.value("alive", true);
        seen += fmt::format("{}node {}: {}", seen.empty() ? "" : ", ", n, fenced ? "fenced" : "not fenced");
        all = all && fenced;
      }
      if (all || Clock::now() >= deadline) {
        StepResult out;
        out.output = seen;
        out.outcome = all ? Outcome::kPassed : Outcome::kFailed;
        if (!all) out.message = seen + fmt::format(" after {} ms", s.within_ms);
        return out;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  StepResult console(const ScenarioStep& s) {
    const std::string input = fmt::format("{}/console-input-{}.sh", options_.dir, result_.steps.size());
    {
      std::ofstream script(input, std::ios::trunc);
      script << s.input << "\n";
      if (!script) return failed("cannot write " + input);
    }
    const ProcessResult r = run_process({options_.gmm_host, "--dir", options_.dir, "console", std::to_string(s.node),
                                         "--batch", "--timeout", "120"},
                                        std::chrono::seconds(300), input);
    return judge(s, r);
  }

  // A command's exit status and output against the step's expectations.
  StepResult judge(const ScenarioStep& s, const ProcessResult& r) {
    StepResult out;
    out.output = tail(r.out + r.err);
    out.outcome = Outcome::kPassed;
    if (s.expect_failure != (r.status != 0)) {
      out.outcome = Outcome::kFailed;
      out.message = s.expect_failure ? "expected a failure, the command succeeded"
                                     : fmt::format("exited with status {}", r.status);
    } else if (s.expect_output && r.out.find(*s.expect_output) == std::string::npos) {
      out.outcome = Outcome::kFailed;
      out.message = fmt::format("output does not contain '{}'", *s.expect_output);
    }
    return out;
  }

  static StepResult failed(const std::string& message) {
    StepResult out;
    out.outcome = Outcome::kFailed;
    out.message = message;
    return out;
  }

  StepResult perform(const ScenarioStep& s) {
    using K = ScenarioStep::Kind;
    const std::string node = std::to_string(s.node);
    switch (s.kind) {
      case K::kRun: return run_on_node(s);
      case K::kCrash: return expect_success(gmm_host({"crash", node, "--how", s.how}), "gmm-host crash");
      case K::kResume: return expect_success(gmm_host({"resume", node, kPatience}), "gmm-host resume");
      case K::kRestart: {
        std::vector<std::string> args{"restart", node, kPatience};
        if (!s.crash_at.empty()) args.insert(args.end(), {"--crash-at", s.crash_at});
        return expect_success(gmm_host(args), "gmm-host restart");
      }
      case K::kLeave: return expect_success(gmm_host({"leave", node, kPatience}), "gmm-host leave");
      case K::kLoseMemory: return expect_success(gmm_host({"lose-memory", node, kPatience}), "gmm-host lose-memory");
      case K::kDirectory: return check_directory(s);
      case K::kMembers: return check_members(s);
      case K::kFenced: return check_fenced(s);
      case K::kConsole: return console(s);
      case K::kWaitRecovered: return wait_recovered(s);
      case K::kFsck: return expect_success(gmm_host({"fsck"}), "gmm-host fsck");
      case K::kSleep: {
        std::this_thread::sleep_for(std::chrono::milliseconds(s.sleep_ms));
        StepResult ok;
        ok.outcome = Outcome::kPassed;
        return ok;
      }
    }
    return {};
  }

  bool execute(const ScenarioStep& s) {
    return step(s.name, [&] { return perform(s); });
  }

  template <class Action>
  bool step(const std::string& name, Action&& action) {
    const auto start = Clock::now();
    StepResult r = action();
    r.name = name;
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const bool ok = r.outcome == Outcome::kPassed;
    progress_ << fmt::format("[{:>2}/{}] {}  {} ({:.0f} ms)\n", result_.steps.size() + 1, total_, ok ? "PASS" : "FAIL",
                             name, r.seconds * 1000);
    if (!ok) progress_ << "        " << r.message << "\n" << (r.output.empty() ? "" : "        " + r.output + "\n");
    progress_.flush();
    result_.steps.push_back(std::move(r));
    return ok;
  }

  bool skip(const std::string& name) {
    StepResult r;
    r.name = name;
    r.outcome = Outcome::kSkipped;
    progress_ << fmt::format("[{:>2}/{}] SKIP  {}\n", result_.steps.size() + 1, total_, name);
    result_.steps.push_back(std::move(r));
    return false;
  }

  void summary() {
    std::string failure;
    for (const auto& f : result_.failures) failure += "; " + failure_line(f);
    if (result_.failures.empty() && result_.last_failure.is_object()) failure = "; " + failure_line(result_.last_failure);
    progress_ << fmt::format("{} {}: {} steps in {:.1f} s{}\n", result_.passed() ? "PASS" : "FAIL", result_.name,
                             result_.steps.size(), result_.seconds, failure);
  }

  const Scenario& scenario_;
  const RunOptions& options_;
  std::ostream& progress_;
  std::string mode_;
  std::size_t total_ = 0;
  std::uint64_t recovered_sequence_ = 0;  // the newest failure record a wait_recovered step saw
  ScenarioResult result_;
};

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kPassed: return "passed";
    case Outcome::kFailed: return "failed";
    case Outcome::kSkipped: return "skipped";
  }
  return "?";
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t') out += c;
    }
  }
  return out;
}

}  // namespace

bool ScenarioResult::passed() const {
  if (steps.empty()) return false;
  for (const auto& s : steps)
    if (s.outcome != Outcome::kPassed) return false;
  return true;
}

ScenarioResult run_scenario(const Scenario& scenario, const RunOptions& options, std::ostream& progress) {
  return Runner(scenario, options, progress).run();
}

nlohmann::json report_json(const ScenarioResult& r) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : r.steps)
    steps.push_back({{"name", s.name}, {"outcome", outcome_name(s.outcome)}, {"seconds", s.seconds},
                     {"message", s.message}, {"output", s.output}});
  return {{"scenario", r.name}, {"passed", r.passed()}, {"seconds", r.seconds}, {"steps", steps},
          {"failures", r.failures}, {"last_failure", r.last_failure}};
}

std::string report_junit(const ScenarioResult& r) {
  std::size_t failures = 0, skipped = 0;
  for (const auto& s : r.steps) {
    failures += s.outcome == Outcome::kFailed;
    skipped += s.outcome == Outcome::kSkipped;
  }
  std::string xml = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" "
      "skipped=\"{}\" time=\"{:.3f}\">\n",
      xml_escape(r.name), r.steps.size(), failures, skipped, r.seconds);
  for (const auto& s : r.steps) {
    xml += fmt::format("  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\"", xml_escape(r.name),
                       xml_escape(s.name), s.seconds);
    if (s.outcome == Outcome::kPassed) {
      xml += "/>\n";
      continue;
    }
    xml += ">\n";
    if (s.outcome == Outcome::kSkipped) xml += "    <skipped/>\n";
    if (s.outcome == Outcome::kFailed)
      xml += fmt::format("    <failure message=\"{}\">{}</failure>\n", xml_escape(s.message), xml_escape(s.output));
    xml += "  </testcase>\n";
  }
  return xml + "</testsuite>\n";
}

}  // namespace gmm::host
