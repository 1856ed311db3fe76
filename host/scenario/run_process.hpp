// Running a program and capturing its output and exit status (tests, the
// scenario runner).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace gmm::host {

struct ProcessResult {
  int status = -1;  // exit status; 128+N if killed by signal N
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up in PATH) with stdin from `stdin_path`. A program
// still running after `timeout` is killed and reported with status -1.
ProcessResult run_process(const std::vector<std::string>& argv,
                          std::chrono::seconds timeout = std::chrono::seconds(180),
                          const std::string& stdin_path = "/dev/null");

// A program running in the background, its output going to files.
class BackgroundProcess {
 public:
  // Starts argv[0] (looked up in PATH) with stdin from /dev/null.
  explicit BackgroundProcess(const std::vector<std::string>& argv);
  ~BackgroundProcess();  // SIGKILLs it if still running
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // What it has written to stderr so far.
  std::string err_so_far() const;
  // Waits for it to exit (killing it after `timeout`, status -1).
  ProcessResult wait(std::chrono::seconds timeout = std::chrono::seconds(180));

 private:
  int pid_ = -1;
  std::string dir_;  // holds out and err
};

// Lines of `text` ("a\nb\n" has two).
std::vector<std::string> lines_of(const std::string& text);

}  // namespace gmm::host
