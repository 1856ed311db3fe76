// Test helper: run a program, capture its output and exit status.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace gmm::test {

struct ProcessResult {
  int status = -1;  // exit status; 128+N if killed by signal N
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up in PATH) with stdin from /dev/null. A program
// still running after `timeout` is killed and reported with status -1.
ProcessResult run_process(const std::vector<std::string>& argv,
                          std::chrono::seconds timeout = std::chrono::seconds(180));

// Lines of `text` ("a\nb\n" has two).
std::vector<std::string> lines_of(const std::string& text);

}  // namespace gmm::test
