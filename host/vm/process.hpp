// Child processes of the VM testbed (QEMU, the ivshmem server): spawn with
// output to a log file, wait with a timeout, stop politely then firmly.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gmm/result.hpp"

namespace gmm::host::vm {

struct SpawnOptions {
  std::string output;         // stdout+stderr appended here ("" = inherited)
  int nice = 0;               // added niceness (the machine is shared)
  bool new_session = false;   // setsid(): survives the spawner's terminal and Ctrl-C
  bool die_with_parent = false;  // SIGKILL when the spawning thread dies (checks, tests)
};

// argv[0] is looked up in PATH; stdin is /dev/null. Errors: fork failed; an
// exec failure shows as exit status 127 (with the reason in `output`).
Result<pid_t> spawn_process(const std::vector<std::string>& argv, const SpawnOptions& options = {});
// Exit status (128+N if killed by signal N) once it has exited, nullopt if it
// is still running after `timeout`, -1 if it is not (or no longer) our child.
// Reaps it.
std::optional<int> wait_process(pid_t pid, std::chrono::milliseconds timeout);
// SIGTERM, `grace` to exit, then SIGKILL; returns the exit status.
int stop_process(pid_t pid, std::chrono::milliseconds grace);

// Alive = the pid exists, is not a zombie and its command line contains
// `name_part` (e.g. "qemu-system", "gmm-ivshmem-server"): a recycled pid is
// gone. Reaps it first if it is our child and exited.
bool process_alive(std::int64_t pid, const std::string& name_part);
// Polls process_alive every 20 ms; false if still alive after `timeout`.
bool wait_gone(std::int64_t pid, const std::string& name_part, std::chrono::milliseconds timeout);
// Stops a daemon that is not our child (recorded pid, checked by `name_part`
// as process_alive does): SIGTERM, `grace` to go, then SIGKILL and `grace`
// again. False if it survived SIGKILL; true if it was not running.
bool stop_daemon(std::int64_t pid, const std::string& name_part, std::chrono::milliseconds grace);

}  // namespace gmm::host::vm
