// Test helper: one `gmm-host up --mode proc` cluster in its own temporary
// directory, always brought down (and the directory removed) at scope exit.
#pragma once

#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenario/run_process.hpp"

namespace gmm::test {

// The gmm-host under test, built next to the tests.
inline const std::string kHost = GMM_HOST_BIN;

using host::BackgroundProcess;
using host::lines_of;
using host::ProcessResult;
using host::run_process;

inline std::string describe(const ProcessResult& result) {
  return "status " + std::to_string(result.status) + "\nstdout:\n" + result.out + "stderr:\n" + result.err;
}

// A failed command: non-zero status and exactly one line on stderr, from
// `program` ("gmmctl: ...") and containing `expected`.
inline void require_one_line_failure(const ProcessResult& result, const std::string& expected,
                                     const std::string& program = "gmmctl") {
  INFO(describe(result));
  CHECK(result.status != 0);
  auto lines = lines_of(result.err);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind(program + ": ", 0) == 0);
  CHECK_THAT(lines[0], Catch::Contains(expected));
}

class TestCluster {
 public:
  // `up_args`: more options for `gmm-host up` (e.g. "--crash-at", "1=alloc.begun").
  TestCluster(int nodes, const std::string& pool_size, std::vector<std::string> up_args = {}) {
    char pattern[] = "/tmp/gmm-e2e-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    std::vector<std::string> args{"up", "--mode", "proc", "--nodes", std::to_string(nodes), "--pool-size", pool_size};
    args.insert(args.end(), up_args.begin(), up_args.end());
    ProcessResult started = host(args);
    INFO(describe(started));
    REQUIRE(started.status == 0);
    up_ = true;
  }
  ~TestCluster() {
    if (up_) host({"down"});
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  ProcessResult host(std::vector<std::string> args) const {
    args.insert(args.begin(), {kHost, "--dir", dir_});
    return run_process(args);
  }
  // gmm-host must succeed; its stdout.
  std::string host_ok(std::vector<std::string> args) const {
    ProcessResult result = host(args);
    INFO("gmm-host " << args.at(0) << ": " << describe(result));
    REQUIRE(result.status == 0);
    return result.out;
  }
  ProcessResult ctl(int node, std::initializer_list<std::string> args) const {
    std::vector<std::string> command{"exec", std::to_string(node), "--", "gmmctl"};
    command.insert(command.end(), args);
    return host(command);
  }
  // gmmctl must succeed; its stdout.
  std::string ctl_ok(int node, std::initializer_list<std::string> args) const {
    ProcessResult result = ctl(node, args);
    INFO("gmmctl on node " << node << ": " << describe(result));
    REQUIRE(result.status == 0);
    return result.out;
  }
  nlohmann::json record() const {
    std::ifstream in(dir_ + "/cluster.json");
    return nlohmann::json::parse(in);
  }
  // `status --json` (its exit status says whether every node is healthy).
  nlohmann::json status() const {
    ProcessResult result = host({"status", "--json"});
    INFO(describe(result));
    REQUIRE(nlohmann::json::accept(result.out));
    return nlohmann::json::parse(result.out);
  }
  // Polls `status --json` until `done` accepts it (generous: a loaded machine).
  nlohmann::json status_until(const std::function<bool(const nlohmann::json&)>& done,
                              std::chrono::seconds timeout = std::chrono::seconds(120)) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    nlohmann::json report = status();
    while (!done(report) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      report = status();
    }
    INFO(report.dump(2));
    REQUIRE(done(report));
    return report;
  }
  void require_clean() const {
    ProcessResult fsck = host({"fsck"});
    INFO(describe(fsck));
    CHECK(fsck.status == 0);
    CHECK_THAT(fsck.out, Catch::Contains("clean"));
  }
  void mark_down() { up_ = false; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool up_ = false;
};

}  // namespace gmm::test
