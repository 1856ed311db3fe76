#include "scenario_command.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "runner.hpp"
#include "scenario.hpp"

namespace gmm::host {

namespace {

std::string self_path() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("gmm-host") : path.string();
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

int command_scenario(const std::string& dir, const std::string& file, const std::string& mode,
                     const std::string& report_path, const std::string& junit_path) {
  auto scenario = load_scenario(file);
  if (!scenario) {
    std::fprintf(stderr, "gmm-host: scenario: %s\n", scenario.error().message.c_str());
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const ScenarioResult result = run_scenario(*scenario, RunOptions{self_path(), dir, mode}, std::cout);
  const std::string report = report_path.empty() ? dir + "/report.json" : report_path;
  const std::string junit = junit_path.empty() ? dir + "/junit.xml" : junit_path;
  if (!write_file(report, report_json(result).dump(2) + "\n") || !write_file(junit, report_junit(result))) {
    std::fprintf(stderr, "gmm-host: scenario: cannot write the reports %s and %s\n", report.c_str(), junit.c_str());
    return 1;
  }
  std::printf("reports: %s %s\n", report.c_str(), junit.c_str());
  return result.passed() ? 0 : 1;
}

}  // namespace gmm::host
