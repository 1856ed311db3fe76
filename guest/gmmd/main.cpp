// gmmd: one per node. Joins the pool as node K, keeps the node's heartbeat
// (membership, failure detection, recovery) and serves gmmctl (and later
// libgmm) requests on a unix socket until SIGTERM/SIGINT, then leaves.
//
//   gmmd --node K --pool PATH --socket PATH [--log-level debug]
//
// The pool must already be formatted (gmm-host up formats it).
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "gmm/gmm.hpp"
#include "gmm/membership.hpp"
#include "gmm/pool.hpp"
#include "gmmd/handler.hpp"
#include "gmmd/server.hpp"

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "gmmd: %s\n", message.c_str());
  return 1;
}

// Termination signals arrive on a descriptor the poll loop watches, so
// leave() runs in normal code, not in a handler.
int termination_signal_fd() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  if (::sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) return -1;
  return ::signalfd(-1, &signals, SFD_CLOEXEC);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gmmd: the GMM node daemon"};
  std::uint32_t node_id = 0;
  std::string pool_path;
  std::string socket_path;
  std::string log_level = "info";
  app.add_option("--node", node_id, "this node's id (its partition in the pool)")->required();
  app.add_option("--pool", pool_path, "formatted pool file to map")->required();
  app.add_option("--socket", socket_path, "unix socket to serve requests on")->required();
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_logger_mt("gmmd");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e gmmd[" + std::to_string(node_id) + "] %l: %v");
  logger->set_level(spdlog::level::from_str(log_level));
  logger->flush_on(spdlog::level::trace);  // logs go to files; keep them current
  spdlog::set_default_logger(logger);
  ::signal(SIGPIPE, SIG_IGN);

  int signal_fd = termination_signal_fd();
  if (signal_fd < 0) return fail("cannot set up signal handling");

  auto mapping = gmm::map_pool_file(pool_path);
  if (!mapping) return fail("cannot map pool " + pool_path + ": " + mapping.error().message);
  auto pool = gmm::Pool::attach(**mapping);
  if (!pool) return fail("cannot attach pool " + pool_path + ": " + pool.error().message);
  // Before join(): a second gmmd for the same socket must not disturb the
  // live node's membership.
  auto listener = gmm::gmmd::Listener::open(socket_path);
  if (!listener) return fail(listener.error().message);

  gmm::Node node(*pool, node_id);
  gmm::Status joined = node.join();
  if (!joined) return fail("node " + std::to_string(node_id) + ": join failed: " + joined.error().message);
  spdlog::info("joined pool {} as node {} of {}", pool_path, node_id, pool->node_count());

  // Membership: heartbeat, failure detection, recovery, events (paper 3.4),
  // ticked between requests by the server loop.
  gmm::EventService events;
  for (auto phase : {gmm::EventService::Phase::kSystem, gmm::EventService::Phase::kApplication}) {
    events.subscribe(phase, nullptr, [phase](const gmm::Event& event) {
      spdlog::info("event {} ({} phase): node {} incarnation {}, record {}", gmm::event_name(event.kind),
                   phase == gmm::EventService::Phase::kSystem ? "system" : "application", event.node,
                   event.incarnation, event.sequence);
    });
  }
  gmm::ClusterAgent agent(node, events);
  bool left = false;
  bool expelled = false;
  auto tick = [&]() {
    switch (agent.tick()) {
      case gmm::ClusterAgent::TickResult::kOk:
        return true;
      case gmm::ClusterAgent::TickResult::kLeft:
        spdlog::info("left the cluster as asked");
        left = true;
        return false;
      case gmm::ClusterAgent::TickResult::kExpelled:
        // Declared failed (we stalled): our shares are gone. Rejoin as a new
        // incarnation once the survivors have recovered the old one.
        if (!expelled) spdlog::warn("expelled from the cluster; rejoining after recovery");
        expelled = true;
        if (node.join()) {
          agent.reset();
          expelled = false;
          spdlog::info("rejoined as incarnation {}", node.incarnation());
        }
        return true;
    }
    return true;
  };
  // A pool formatted with period 0 must not turn the loop into a spin.
  auto period = std::max(agent.period(), std::chrono::microseconds(1000));

  gmm::gmmd::RequestHandler handler(node);
  gmm::gmmd::Server server(*listener, handler, gmm::gmmd::Ticker{period, tick});
  std::fprintf(stderr, "gmmd: node %u ready\n", node_id);
  int signo = server.run(signal_fd);

  if (signo > 0) spdlog::info("signal {} received: leaving", signo);
  if (!left) node.leave();
  return signo >= 0 ? 0 : 1;
}
