// gmm-agent-probe: probes one guest's control channel end to end through
// QEMU's socket: first pong, commands and their results, 1 MiB replies (also
// while the host does not read), concurrency, and the agent surviving a host
// that disconnects with replies due.
//
//   gmm-agent-probe SOCKET [--since EPOCH_S] [--kernel VERSION] [--poweroff]
//
// --since: when QEMU was started (date +%s.%N), to report boot-to-first-pong.
// Prints one line per check and PASS/FAIL; exit status 0 on PASS.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "agent_client.hpp"

namespace {

using gmm::host::AgentClient;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class Checker {
 public:
  void report(const std::string& name, bool ok, const std::string& detail) {
    std::printf("check: %-29s %s  %s\n", name.c_str(), ok ? "ok  " : "FAIL", detail.c_str());
    std::fflush(stdout);
    failures_ += ok ? 0 : 1;
  }
  // Runs argv and reports it; `expect` judges the output.
  template <class Expect>
  void run(AgentClient& client, const std::string& name, const std::vector<std::string>& argv, Expect expect,
           std::chrono::milliseconds timeout = 30s) {
    auto started = Clock::now();
    auto output = client.run(argv, timeout);
    char took[32];
    std::snprintf(took, sizeof took, " [%.2f s]", seconds_since(started));
    if (!output.ok()) return report(name, false, output.error().message + took);
    std::string first_line = output->out.substr(0, std::min(output->out.find('\n'), std::size_t{60}));
    std::string detail = "status " + std::to_string(output->status) + ", out " +
                         std::to_string(output->out.size()) + " B \"" + first_line + "\", err " +
                         std::to_string(output->err.size()) + " B" + (output->truncated ? ", truncated" : "") + took;
    report(name, expect(*output), detail);
  }
  int failures() const { return failures_; }

 private:
  int failures_ = 0;
};

// Connects again and runs two commands; returns what went wrong, or "".
std::string reconnect_problem(const std::string& socket_path, std::optional<AgentClient>& client) {
  auto reconnected = AgentClient::connect(socket_path, 10s);
  if (!reconnected.ok()) return reconnected.error().message;
  client.emplace(std::move(*reconnected));
  if (auto pong = client->wait_ready(30s); !pong.ok()) return pong.error().message;
  auto echo = client->run({"echo", "again"}, 10s);
  if (!echo.ok()) return echo.error().message;
  if (echo->out != "again\n") return "echo printed \"" + echo->out + "\"";
  auto big = client->run({"sh", "-c", "head -c 300000 /dev/zero | tr '\\0' w"}, 30s);
  if (!big.ok()) return big.error().message;
  if (big->out.size() != 300000) return "300 kB command printed " + std::to_string(big->out.size()) + " B";
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gmm-agent-probe: probe a guest's gmm-agent control channel end to end"};
  std::string socket_path, kernel;
  double since = 0;
  bool poweroff = false;
  app.add_option("socket", socket_path, "QEMU's unix socket of the guest's hvc0 (nodeK.ctl)")->required();
  app.add_option("--since", since, "when QEMU started, in seconds since the epoch");
  app.add_option("--kernel", kernel, "expected `uname -r`");
  app.add_flag("--poweroff", poweroff, "power the guest off at the end");
  CLI11_PARSE(app, argc, argv);

  auto started = Clock::now();
  double offset = 0;  // seconds between QEMU's start and ours
  if (since > 0) {
    offset = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() - since;
  }
  Checker check;
  auto connected = AgentClient::connect(socket_path, 60s);
  if (!connected.ok()) {
    std::printf("FAIL: %s\n", connected.error().message.c_str());
    return 1;
  }
  std::optional<AgentClient> client(std::move(*connected));
  auto uptime = client->wait_ready(300s);
  if (!uptime.ok()) {
    std::printf("FAIL: %s\n", uptime.error().message.c_str());
    return 1;
  }
  char detail[160];
  std::snprintf(detail, sizeof detail, "%.2f s after QEMU started; guest uptime %.2f s",
                seconds_since(started) + offset, static_cast<double>(uptime->count()) / 1000);
  check.report("first pong", true, detail);

  std::vector<double> round_trips;
  for (int i = 0; i < 10; ++i) {
    auto sent = Clock::now();
    if (client->ping(5s).ok()) round_trips.push_back(seconds_since(sent) * 1000);
  }
  int pongs = static_cast<int>(round_trips.size());
  std::sort(round_trips.begin(), round_trips.end());
  if (round_trips.empty()) round_trips.push_back(0);
  std::snprintf(detail, sizeof detail, "median %.1f ms, max %.1f ms", round_trips[round_trips.size() / 2],
                round_trips.back());
  check.report("ping round trip", pongs == 10, std::string(detail) + " over " + std::to_string(pongs));

  check.run(*client, "uname -r", {"uname", "-r"}, [&](const auto& o) {
    return o.status == 0 && (kernel.empty() ? o.out.size() > 1 : o.out == kernel + "\n");
  });
  check.run(*client, "cpuinfo | head -1", {"sh", "-c", "cat /proc/cpuinfo | head -1"},
            [](const auto& o) { return o.status == 0 && o.out.starts_with("processor") && o.err.empty(); });
  check.run(*client, "exit 3", {"sh", "-c", "exit 3"}, [](const auto& o) { return o.status == 3; });
  check.run(*client, "stderr apart", {"sh", "-c", "echo to-err >&2"},
            [](const auto& o) { return o.status == 0 && o.out.empty() && o.err == "to-err\n"; });
  check.run(*client, "2 MiB output", {"sh", "-c", "head -c 2097152 /dev/zero | tr '\\0' x"}, [](const auto& o) {
    return o.status == 0 && o.truncated && o.out.size() == (1u << 20) &&
           o.out.find_first_not_of('x') == std::string::npos;
  });
  {
    // a virtconsole drops what QEMU cannot write at once; a virtio-serial port waits
    auto id = client->start({"sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' y"}, 30s);
    std::this_thread::sleep_for(3s);
    auto output = id.ok() ? client->wait(*id) : id.error();
    bool complete = output.ok() && output->out.size() == (1u << 20) && !output->truncated;
    check.report("1 MiB reply, host stalls 3 s", complete,
                 output.ok() ? "out " + std::to_string(output->out.size()) + " B" : output.error().message);
  }
  check.run(*client, "not UTF-8", {"printf", "a\\377b"}, [](const auto& o) { return o.out == "a\xEF\xBF\xBD" "b"; });
  check.run(*client, "GMM_SOCKET exported", {"sh", "-c", "echo $GMM_SOCKET"},
            [](const auto& o) { return o.out == "/run/gmmd.sock\n"; });
  auto missing = client->run({"no-such-program"}, 10s);
  check.report("missing program", !missing.ok() && missing.error().code == gmm::Errc::kInvalidArgument,
               missing.ok() ? "ran?" : missing.error().message);
  auto killed = client->run({"sleep", "30"}, 500ms);
  check.report("timeout kills", !killed.ok(), killed.ok() ? "not killed" : killed.error().message);

  {
    auto slow = client->start({"sh", "-c", "sleep 1; echo slow"}, 10s);
    auto fast = client->start({"echo", "fast"}, 10s);
    auto fast_output = fast.ok() ? client->wait(*fast) : fast.error();
    bool fast_first = fast_output.ok() && fast_output->out == "fast\n";
    auto slow_output = slow.ok() ? client->wait(*slow) : slow.error();
    check.report("concurrent, out of order", fast_first && slow_output.ok() && slow_output->out == "slow\n",
                 fast_first ? "fast reply came first" : "fast reply did not come first");
  }

  // The host goes away while replies are due (one of 1 MiB); the agent must
  // keep serving the next connection.
  (void)client->start({"sh", "-c", "sleep 1; echo nobody-listens"}, 10s);
  (void)client->start({"sh", "-c", "head -c 2097152 /dev/zero | tr '\\0' z"}, 30s);
  client.reset();
  std::this_thread::sleep_for(1500ms);
  std::string problem = reconnect_problem(socket_path, client);
  check.report("reconnect", problem.empty(), problem.empty() ? "pong and commands (one of 300 kB) again" : problem);

  if (poweroff && client) (void)client->run({"poweroff", "-f"}, 2s);
  std::printf("%s (%d failed)\n", check.failures() == 0 ? "PASS" : "FAIL", check.failures());
  return check.failures() == 0 ? 0 : 1;
}
