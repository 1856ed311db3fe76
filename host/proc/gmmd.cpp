#include "proc/gmmd.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "launcher/doorbell_server.hpp"
#include "proto/client.hpp"

extern char** environ;

namespace gmm::host::proc {
namespace {

using namespace std::chrono_literals;

constexpr auto kPingTimeout = 5s;

}  // namespace

Result<std::optional<ProcessHandle>> open_gmmd(const NodeRecord& node) {
  return ProcessHandle::open(node.pid, [&node] { return gmmd_alive(node); });
}

ProcessState gmmd_state(const NodeRecord& node) {
  if (node.pid <= 0) return ProcessState::kGone;
  auto read = [proc = "/proc/" + std::to_string(node.pid)](const char* file) {
    std::ifstream in(proc + file);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  std::string stat = read("/stat");
  auto paren = stat.rfind(')');  // the state follows the command name
  if (paren == std::string::npos || paren + 2 >= stat.size()) return ProcessState::kGone;
  char state = stat[paren + 2];
  if (state == 'Z' || state == 'X') return ProcessState::kGone;
  std::string cmdline = read("/cmdline");
  if (cmdline.find(std::string("--socket") + '\0' + node.socket + '\0') == std::string::npos) {
    return ProcessState::kGone;
  }
  return state == 'T' || state == 't' ? ProcessState::kStopped : ProcessState::kRunning;
}

Status ping(const NodeRecord& node) {
  auto client = proto::Client::connect(node.socket);
  if (!client) return client.error();
  proto::Request request;
  request.op = proto::Op::kPing;
  auto reply = client->call(request, kPingTimeout);
  if (!reply) return reply.error();
  if (!reply->contains("node") || (*reply)["node"] != node.id) {
    return make_error(Errc::kIo, "socket " + node.socket + " is served by another node: " + reply->dump());
  }
  return ok_status();
}

Result<std::int64_t> spawn_gmmd(const Cluster& cluster, const NodeRecord& node, bool append_log) {
  std::vector<std::string> args{cluster.binaries.gmmd, "--node",   std::to_string(node.id), "--pool",
                                cluster.pool_path,     "--socket", node.socket};
  // Clusters recorded before the doorbell server existed have none: gmmd polls.
  if (cluster.vm.server_pid > 0) args.insert(args.end(), {"--doorbell", doorbell_socket(cluster, node.id)});
  if (!node.crash_at.empty()) args.insert(args.end(), {"--crash-at", node.crash_at});
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // Detached: own session, no terminal, output to the node's log, none of
  // our descriptors (a test harness waits for its pipes to close).
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, node.log.c_str(),
                                   O_WRONLY | O_CREAT | (append_log ? O_APPEND : O_TRUNC), 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int error = posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    return make_error(Errc::kIo, "cannot start " + cluster.binaries.gmmd + " for node " + std::to_string(node.id) +
                                     ": " + std::strerror(error));
  }
  return static_cast<std::int64_t>(pid);
}

std::optional<int> exited_child(std::int64_t pid) {
  int status = 0;
  if (::waitpid(static_cast<pid_t>(pid), &status, WNOHANG) != pid) return std::nullopt;
  return status;
}

std::vector<std::int64_t> node_client_pids(const Cluster& cluster, std::uint32_t node) {
  namespace fs = std::filesystem;
  const std::string want_dir = "GMM_CLUSTER_DIR=" + cluster.dir, want_node = "GMM_NODE=" + std::to_string(node);
  const std::int64_t self = ::getpid();
  std::vector<std::int64_t> pids;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::int64_t pid = std::stoll(name);
    if (pid == self) continue;
    std::ifstream in(entry.path() / "environ", std::ios::binary);
    if (!in) continue;  // gone, or not ours to read
    bool dir_matches = false, node_matches = false;
    for (std::string var; std::getline(in, var, '\0');) {
      dir_matches = dir_matches || var == want_dir;
      node_matches = node_matches || var == want_node;
    }
    if (!dir_matches || !node_matches) continue;
    std::error_code ignored;
    const std::string exe = fs::read_symlink(entry.path() / "exe", ignored).filename().string();
    if (exe == "gmmd" || exe == "gmm-host") continue;
    pids.push_back(pid);
  }
  return pids;
}

}  // namespace gmm::host::proc
