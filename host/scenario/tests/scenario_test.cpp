// Scenario files: parsing, clear errors for bad files, and the reports.
#include <catch2/catch.hpp>

#include "runner.hpp"
#include "scenario.hpp"

using namespace gmm;
using namespace gmm::host;

TEST_CASE("scenario: a complete file parses into steps and checks", "[scenario]") {
  auto s = parse_scenario(R"(
name: demo
cluster: {mode: proc, nodes: 4, pool_size: 64M, heartbeat_ms: 20, miss_threshold: 10}
steps:
  - {on: 0, run: "gmmctl write orders 0 'hello world'", expect_output: ok}
  - {on: 1, run: gmmctl open nothing, expect_exit: nonzero, name: opening a missing name fails}
  - {crash: 2, how: pause}
  - {wait_recovered: 2, within_ms: 3000}
  - {resume: 2}
  - {restart: 2}
  - {leave: 1}
  - {lose_memory: 3}
  - {sleep_ms: 10}
checks:
  - {fsck: clean}
)", "demo.yaml");
  REQUIRE(s.ok());
  CHECK(s->name == "demo");
  CHECK(s->pool_size == "64M");
  CHECK(s->heartbeat_ms == 20u);
  REQUIRE(s->steps.size() == 9);
  CHECK(s->steps[0].argv == std::vector<std::string>{"gmmctl", "write", "orders", "0", "hello world"});
  CHECK(s->steps[0].expect_output == "ok");
  CHECK(s->steps[1].expect_failure);
  CHECK(s->steps[1].name == "opening a missing name fails");
  CHECK(s->steps[2].kind == ScenarioStep::Kind::kCrash);
  CHECK(s->steps[2].how == "pause");
  CHECK(s->steps[3].within_ms == 3000);
  CHECK(s->steps[7].kind == ScenarioStep::Kind::kLoseMemory);
  REQUIRE(s->checks.size() == 1);
  CHECK(s->checks[0].kind == ScenarioStep::Kind::kFsck);
}

TEST_CASE("scenario: bad files are refused with the place and the reason", "[scenario]") {
  auto error_of = [](const char* text) {
    auto s = parse_scenario(text, "bad.yaml");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Errc::kInvalidArgument);
    return s.error().message;
  };
  CHECK(error_of("steps: [").find("not valid YAML") != std::string::npos);
  CHECK(error_of("- just a list").find("mapping") != std::string::npos);
  CHECK(error_of("name: x\nsteps: []").find("at least one step") != std::string::npos);
  CHECK(error_of("steps:\n  - {run: gmmctl ls}").find("needs 'on") != std::string::npos);
  CHECK(error_of("steps:\n  - {crash: 1, restart: 1}").find("exactly one") != std::string::npos);
  CHECK(error_of("steps:\n  - {crash: 1, how: melt}").find("kill, pause or panic") != std::string::npos);
  CHECK(error_of("steps:\n  - {crash: 7}").find("node 7 of 4") != std::string::npos);
  CHECK(error_of("steps:\n  - {on: 0, run: \"gmmctl 'open\"}").find("badly quoted") != std::string::npos);
  CHECK(error_of("cluster: {mode: cloud}\nsteps:\n  - {fsck: clean}").find("proc or vm") != std::string::npos);
  CHECK(error_of("steps:\n  - {fsck: dirty}").find("clean") != std::string::npos);
  CHECK(error_of("steps:\n  - {crash: two}").find("wrong type") != std::string::npos);
  CHECK(load_scenario("/nonexistent/x.yaml").error().code == Errc::kIo);
}

TEST_CASE("scenario: reports list every step with its outcome", "[scenario]") {
  ScenarioResult r;
  r.name = "demo";
  r.steps.push_back({"form the cluster", StepResult::Outcome::kPassed, 1.5, "", ""});
  r.steps.push_back({"node 0: gmmctl <read>", StepResult::Outcome::kFailed, 0.1, "exited with status 1", "a & b"});
  r.steps.push_back({"fsck is clean", StepResult::Outcome::kSkipped, 0, "", ""});
  CHECK_FALSE(r.passed());
  const auto json = report_json(r);
  CHECK(json["passed"] == false);
  CHECK(json["steps"].size() == 3);
  CHECK(json["steps"][1]["outcome"] == "failed");
  const std::string xml = report_junit(r);
  CHECK(xml.find("tests=\"3\" failures=\"1\" skipped=\"1\"") != std::string::npos);
  CHECK(xml.find("gmmctl &lt;read&gt;") != std::string::npos);
  CHECK(xml.find("<failure message=\"exited with status 1\">a &amp; b</failure>") != std::string::npos);
  CHECK(xml.find("<skipped/>") != std::string::npos);
}

TEST_CASE("scenario: crash points, directory and member checks, console steps", "[scenario]") {
  auto s = parse_scenario(R"(
name: vm-steps
cluster: {mode: vm, nodes: 4, crash_at: {3: "alloc.extent_carved"}}
steps:
  - {restart: 2, crash_at: "alloc.committing:2"}
  - {directory: {primary: 0, replica: 1}}
  - {directory: {not_on: 2}}
  - {members: [3, 0, 1]}
  - {console: 1, input: "uname -r\necho done", expect_output: done}
  - {console: 2, input: "false", expect_exit: nonzero}
)", "vm.yaml");
  REQUIRE(s.ok());
  REQUIRE(s->crash_at.size() == 1);
  CHECK(s->crash_at[0] == std::pair<std::uint32_t, std::string>{3, "alloc.extent_carved"});
  REQUIRE(s->steps.size() == 6);
  CHECK(s->steps[0].kind == ScenarioStep::Kind::kRestart);
  CHECK(s->steps[0].crash_at == "alloc.committing:2");
  CHECK(s->steps[1].kind == ScenarioStep::Kind::kDirectory);
  CHECK(s->steps[1].primary == 0u);
  CHECK(s->steps[1].replica == 1u);
  CHECK_FALSE(s->steps[1].not_on);
  CHECK(s->steps[2].not_on == 2u);
  CHECK(s->steps[3].members == std::vector<std::uint32_t>{0, 1, 3});
  CHECK(s->steps[3].name == "the members are 0,1,3");
  CHECK(s->steps[4].kind == ScenarioStep::Kind::kConsole);
  CHECK(s->steps[4].input == "uname -r\necho done");
  CHECK(s->steps[4].name == "node 1 console: uname -r");
  CHECK(s->steps[4].expect_output == "done");
  CHECK(s->steps[5].expect_failure);
}

TEST_CASE("scenario: bad crash points, directory and member checks are refused", "[scenario]") {
  auto error_of = [](const char* text) {
    auto s = parse_scenario(text, "bad.yaml");
    REQUIRE_FALSE(s.ok());
    return s.error().message;
  };
  CHECK(error_of("cluster: {crash_at: {1: alloc.melted}}\nsteps:\n  - {fsck: clean}").find("unknown crash point 'alloc.melted'") !=
        std::string::npos);
  CHECK(error_of("cluster: {crash_at: {9: alloc.begun}}\nsteps:\n  - {fsck: clean}").find("node 9 of 4") != std::string::npos);
  CHECK(error_of("cluster: {crash_at: [alloc.begun]}\nsteps:\n  - {fsck: clean}").find("maps node ids") != std::string::npos);
  CHECK(error_of("steps:\n  - {restart: 1, crash_at: 'alloc.begun:0'}").find("positive integer") != std::string::npos);
  CHECK(error_of("steps:\n  - {crash: 1, crash_at: alloc.begun}").find("goes with 'restart'") != std::string::npos);
  CHECK(error_of("steps:\n  - {directory: {primary: 5}}").find("node 5 of 4") != std::string::npos);
  CHECK(error_of("steps:\n  - {directory: {master: 0}}").find("not 'master'") != std::string::npos);
  CHECK(error_of("steps:\n  - {directory: 0}").find("mapping") != std::string::npos);
  CHECK(error_of("steps:\n  - {members: 0}").find("list of node ids") != std::string::npos);
  CHECK(error_of("steps:\n  - {members: [0, 7]}").find("node 7 of 4") != std::string::npos);
  CHECK(error_of("steps:\n  - {console: 1}").find("needs 'input") != std::string::npos);
}

TEST_CASE("scenario: the detector key and fenced steps", "[scenario]") {
  auto s = parse_scenario(R"(
cluster: {mode: proc, nodes: 4, detector: heartbeat}
steps:
  - {crash: 2, how: pause}
  - {fenced: [2, 3], within_ms: 500}
)", "fence.yaml");
  REQUIRE(s.ok());
  CHECK(s->detector == "heartbeat");
  REQUIRE(s->steps.size() == 2);
  CHECK(s->steps[1].kind == ScenarioStep::Kind::kFenced);
  CHECK(s->steps[1].members == std::vector<std::uint32_t>{2, 3});
  CHECK(s->steps[1].within_ms == 500);
  CHECK(!parse_scenario("cluster: {detector: sometimes}\nsteps: [{sleep_ms: 1}]\n", "x.yaml").ok());
  CHECK(!parse_scenario("cluster: {nodes: 2}\nsteps: [{fenced: [3]}]\n", "x.yaml").ok());
  CHECK(!parse_scenario("steps: [{fenced: 1}]\n", "x.yaml").ok());
}
