// gmmd: one per node. Joins the pool as node K, keeps the node alive in a
// thread of its own (heartbeat, ring watch), does its cluster work in
// another (recovery, events, messages; gmm/node_threads.hpp) and serves gmmctl (and later libgmm) requests on a unix socket until
// SIGTERM/SIGINT (then it leaves) or until the cluster asks it to leave
// (`gmm-host leave`; then it exits 0).
//
//   gmmd --node K (--pool PATH [--doorbell SOCKET] | --uio auto|/dev/uioN) --socket PATH
//        [--log-level debug] [--crash-at POINT[:N][:kill|stop|hang]]
//        [--liveness-priority P] [--no-kernel-heartbeat]
//
// --pool maps a pool file (process mode); --uio maps the ivshmem BAR2 of a
// VM through the gmm_ivshmem UIO device (VM mode; `auto` = the first
// gmm_ivshmem device). Exactly one of the two; the core sees a PoolMapping
// either way.
//
// The doorbell (other nodes ring it to wake this node's agent at once):
// in process mode --doorbell SOCKET connects to the ivshmem server
// (gmm-ivshmem-server, node K's socket: peer id == node id); in a guest the
// ivshmem-doorbell device's Doorbell register and MSI-X vectors are used when
// the device has vectors. Without either, gmmd polls its mailbox once per
// heartbeat period and says so in the log.
//
// The heartbeat (docs/design.md, "Threads of a node"): in a guest the
// gmm_ivshmem driver's kernel timer beats it (/dev/gmm_heartbeat,
// OsHeartbeat), so that no load in the guest's user space can starve it;
// gmmd's liveness thread then advances `progress` only. Without that device
// (an older driver, --no-kernel-heartbeat, process mode) the liveness thread
// beats both. The liveness thread runs SCHED_FIFO at priority P
// (--liveness-priority; default 10 in a guest, 0 = normal scheduling in
// process mode), so that busy processes do not delay `progress` either.
//
// --crash-at (or GMMD_CRASH_AT=...; the flag wins) makes gmmd fail the Nth
// time it reaches crash point POINT (`gmm-host points`): SIGKILL itself,
// SIGSTOP itself, or hang that thread (gmm/crash.hpp).
// The pool must already be formatted (gmm-host up formats it).
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "file/file_pool.hpp"
#include "file/file_window.hpp"
#include "gmm/crash.hpp"
#include "gmm/gmm.hpp"
#include "gmm/membership.hpp"
#include "gmm/node_threads.hpp"
#include "gmm/platform.hpp"
#include "gmm/pool.hpp"
#include "gmmd/handler.hpp"
#include "gmmd/inbox.hpp"
#include "gmmd/server.hpp"
#include "ivshmem/ivshmem_doorbell.hpp"
#include "uio/uio_doorbell.hpp"
#include "uio/uio_heartbeat.hpp"
#include "uio/uio_pool.hpp"
#include "uio/uio_window.hpp"

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

// A node declared failed may rejoin only once the survivors have recovered
// its previous incarnation (join says kBusy until then), and a joiner that
// stalls is declared failed like a member (join then says kExpelled): a
// restarted gmmd waits for its recovery rather than give up.
gmm::Status join_when_recovered(gmm::Node& node) {
  using namespace std::chrono_literals;
  constexpr auto kRecoveryWait = 60s;
  auto deadline = std::chrono::steady_clock::now() + kRecoveryWait;
  bool told = false;
  for (;;) {
    gmm::Status joined = node.join();
    const bool retry = !joined && (joined.error().code == gmm::Errc::kBusy || joined.error().code == gmm::Errc::kExpelled);
    if (!retry || std::chrono::steady_clock::now() >= deadline) return joined;
    if (!told) spdlog::info("{}; waiting to join", joined.error().message);
    told = true;
    std::this_thread::sleep_for(10ms);
  }
}

void log_events(gmm::EventService& events) {
  for (auto phase : {gmm::EventService::Phase::kSystem, gmm::EventService::Phase::kApplication}) {
    events.subscribe(phase, nullptr, [phase](const gmm::Event& event) {
      spdlog::info("event {} ({} phase): node {} incarnation {}, record {}", gmm::event_name(event.kind),
                   phase == gmm::EventService::Phase::kSystem ? "system" : "application", event.node,
                   event.incarnation, event.sequence);
    });
  }
}

// --pool PATH maps a file; --uio auto|/dev/uioN maps the ivshmem BAR2.
gmm::Result<std::unique_ptr<gmm::PoolMapping>> open_pool(const std::string& pool_path, const std::string& uio) {
  if (uio.empty()) return gmm::map_pool_file(pool_path);
  gmm::Result<std::unique_ptr<gmm::UioPool>> opened = gmm::make_error(gmm::Errc::kNotFound, "");
  if (uio == "auto") {
    opened = gmm::UioPool::open_default();
  } else {
    // /dev/uioN -> /sys/class/uio/uioN
    std::string name = uio.substr(uio.find_last_of('/') + 1);
    std::string dev_dir = uio.find('/') == std::string::npos ? "/dev" : uio.substr(0, uio.find_last_of('/'));
    if (dev_dir.empty()) dev_dir = "/";
    auto device = gmm::read_uio_device("/sys/class/uio", name, dev_dir);
    if (!device) return device.error();
    opened = gmm::UioPool::open(*device);
  }
  if (!opened) return opened.error();
  return std::unique_ptr<gmm::PoolMapping>(std::move(*opened));
}

// The node's doorbell and what to call it in logs and ping replies.
struct ChosenDoorbell {
  std::unique_ptr<gmm::Doorbell> doorbell;
  std::string kind;  // "ivshmem" (server client), "uio" (Doorbell register) or "polling"
};

// --doorbell SOCKET (process mode), else the UIO device's doorbell when it
// has vectors, else polling.
gmm::Result<ChosenDoorbell> open_doorbell(std::uint32_t node_id, const std::string& socket,
                                          const gmm::PoolMapping& mapping, bool uio) {
  if (!socket.empty()) {
    auto client = gmm::ivshmem::ClientDoorbell::connect(socket, static_cast<std::uint16_t>(node_id),
                                                        gmm::ivshmem::kGmmVectors, std::chrono::seconds(5),
                                                        [](std::string_view line) { spdlog::warn("{}", line); });
    if (!client) return client.error();
    spdlog::info("doorbell: {}", (*client)->describe());
    return ChosenDoorbell{std::move(*client), "ivshmem"};
  }
  if (uio) {
    const auto& pool = static_cast<const gmm::UioPool&>(mapping);
    if (pool.device().vectors > 0) {
      if (pool.ivposition() != static_cast<std::int32_t>(node_id))
        return gmm::make_error(gmm::Errc::kInvalidArgument,
                               "the ivshmem device's peer id (IVPosition) is " + std::to_string(pool.ivposition()) +
                                   ", not node id " + std::to_string(node_id) +
                                   ": doorbells would ring the wrong nodes (start the VM on node " +
                                   std::to_string(node_id) + "'s ivshmem socket)");
      spdlog::info("doorbell: the Doorbell register of {} (peer id {}, {} vectors)", pool.device().dev_path,
                   pool.ivposition(), pool.device().vectors);
      return ChosenDoorbell{std::make_unique<gmm::UioDoorbell>(pool), "uio"};
    }
  }
  spdlog::warn("doorbell: none ({}): the mailbox is polled once per heartbeat period, so messages and "
               "recoveries wait for the next tick",
               uio ? "the ivshmem device has no vectors (ivshmem-plain)" : "no --doorbell SOCKET");
  return ChosenDoorbell{std::make_unique<gmm::PollingDoorbell>(), "polling"};
}

// The one place gmmd picks how clients get section windows: the pool file
// in process mode; in a guest, the gmm_ivshmem driver's window device
// (UioWindowSource). Without that device (an older driver) gmmd still runs
// and `acquire` says why it cannot hand out windows.
std::unique_ptr<gmm::WindowSource> make_window_source(const std::string& pool_path, const std::string& uio,
                                                      std::uint64_t pool_size) {
  if (uio.empty()) return std::make_unique<gmm::FileWindowSource>(pool_path, pool_size);
  auto device = gmm::open_uio_window_source();
  if (!device) {
    spdlog::warn("no section windows for clients: {}", device.error().message);
    return nullptr;
  }
  return std::move(*device);
}

// In a guest: the driver's kernel heartbeat, unless turned off or missing
// (then the liveness thread beats, as in process mode).
std::unique_ptr<gmm::UioHeartbeat> open_kernel_heartbeat(bool uio, bool wanted) {
  if (!uio) return nullptr;
  if (!wanted) {
    spdlog::info("heartbeat: beaten by the liveness thread (--no-kernel-heartbeat)");
    return nullptr;
  }
  auto heartbeat = gmm::UioHeartbeat::open();
  if (!heartbeat) {
    spdlog::warn("heartbeat: beaten by the liveness thread, which load in this guest can starve: {}",
                 heartbeat.error().message);
    return nullptr;
  }
  return std::move(*heartbeat);
}

// SCHED_FIFO for the liveness thread (0: leave it as it is).
void raise_liveness_priority(gmm::LivenessThread& liveness, int priority) {
  if (priority <= 0) return;
  sched_param param{};
  param.sched_priority = priority;
  const int err = ::pthread_setschedparam(liveness.native_handle(), SCHED_FIFO, &param);
  if (err != 0)
    spdlog::warn("liveness thread: cannot make it SCHED_FIFO {}: {}; busy processes can delay its progress",
                 priority, std::strerror(err));
  else
    spdlog::info("liveness thread: SCHED_FIFO priority {}", priority);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gmmd: the GMM node daemon"};
  std::uint32_t node_id = 0;
  std::string pool_path;
  std::string socket_path;
  std::string log_level = "info";
  app.add_option("--node", node_id, "this node's id (its partition in the pool)")->required();
  std::string uio;
  auto* pool_option = app.add_option("--pool", pool_path, "formatted pool file to map");
  auto* uio_option = app.add_option("--uio", uio, "auto or /dev/uioN: map the formatted pool from the ivshmem UIO device");
  pool_option->excludes(uio_option);
  std::string doorbell_socket;
  app.add_option("--doorbell", doorbell_socket,
                 "process mode: the ivshmem server's socket for this node (peer id == node id); "
                 "without it gmmd polls for messages once per heartbeat period")
      ->excludes(uio_option);
  app.add_option("--socket", socket_path, "unix socket to serve requests on")->required();
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  std::string crash_at;
  app.add_option("--crash-at", crash_at, "POINT[:N][:kill|stop|hang]: fail the Nth time at crash point POINT (default kill)");
  int liveness_priority = -1;
  app.add_option("--liveness-priority", liveness_priority,
                 "SCHED_FIFO priority of the liveness thread, 0 = normal scheduling (default: 10 with --uio, else 0)")
      ->check(CLI::Range(0, 99));
  bool no_kernel_heartbeat = false;
  app.add_flag("--no-kernel-heartbeat", no_kernel_heartbeat,
               "with --uio: the liveness thread beats the heartbeat, not the gmm_ivshmem kernel timer");
  CLI11_PARSE(app, argc, argv);
  if (liveness_priority < 0) liveness_priority = uio.empty() ? 0 : 10;
  if (pool_path.empty() == uio.empty()) return fail("exactly one of --pool PATH and --uio auto|/dev/uioN is required");
  // Armed before join: N counts every time the process gets there.
  gmm::Status armed = crash_at.empty() ? gmm::crash_arm_from_env() : gmm::crash_arm_from_spec(crash_at);
  if (!armed) return fail(armed.error().message);

  auto logger = spdlog::stderr_logger_mt("gmmd");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e gmmd[" + std::to_string(node_id) + "] %l: %v");
  logger->set_level(spdlog::level::from_str(log_level));
  logger->flush_on(spdlog::level::trace);  // logs go to files; keep them current
  spdlog::set_default_logger(logger);
  ::signal(SIGPIPE, SIG_IGN);

  int signal_fd = termination_signal_fd();
  if (signal_fd < 0) return fail("cannot set up signal handling");

  gmm::Result<std::unique_ptr<gmm::PoolMapping>> mapping = open_pool(pool_path, uio);
  if (!mapping) return fail("cannot map pool " + (uio.empty() ? pool_path : "--uio " + uio) + ": " + mapping.error().message);
  if (!uio.empty()) pool_path = (*mapping)->describe();
  auto pool = gmm::Pool::attach(**mapping);
  if (!pool) return fail("cannot attach pool " + pool_path + ": " + pool.error().message);
  // Before join(): a second gmmd for the same socket must not disturb the
  // live node's membership.
  auto listener = gmm::gmmd::Listener::open(socket_path);
  if (!listener) return fail(listener.error().message);

  // Also before join(): a gmmd that cannot be rung must not become a member.
  auto doorbell = open_doorbell(node_id, doorbell_socket, **mapping, !uio.empty());
  if (!doorbell) return fail(doorbell.error().message);

  gmm::Node node(*pool, node_id);
  gmm::Messenger messenger(*pool, node_id, *doorbell->doorbell);
  auto agent_log = [](gmm::LogLevel level, std::string_view line) {
    spdlog::log(level == gmm::LogLevel::kWarning ? spdlog::level::warn : spdlog::level::info, "{}", line);
  };
  // Beating from before join (docs/design.md, "Threads of a node").
  std::unique_ptr<gmm::UioHeartbeat> kernel_heartbeat = open_kernel_heartbeat(!uio.empty(), !no_kernel_heartbeat);
  gmm::LivenessThread liveness(node, &messenger, agent_log, kernel_heartbeat.get());
  raise_liveness_priority(liveness, liveness_priority);
  gmm::Status joined = join_when_recovered(node);
  if (!joined) return fail("node " + std::to_string(node_id) + ": join failed: " + joined.error().message);
  spdlog::info("joined pool {} as node {} of {} (incarnation {})", pool_path, node_id, pool->node_count(),
               node.incarnation());
  // Restarted before the others noticed: the node's sharer entries are
  // still there, those of the previous gmmd's clients too. Those clients'
  // connections are gone (and client numbers start again at 1): release
  // their shares; gmmd's own (gmmctl's alloc/open) stay.
  if (gmm::Status released = node.close_all_but(gmm::gmmd::kDaemonHolder); !released)
    spdlog::warn("releasing the shares of a previous gmmd's clients: {}", released.error().message);

  gmm::EventService events;
  log_events(events);
  gmm::gmmd::ServerInbox inbox;
  if (inbox.fd() < 0) return fail("cannot create an eventfd");
  // The node's cluster work runs in its own thread; gmm::Node serialises
  // its calls. Application messages go to every connection watching "message".
  auto on_message = [&inbox](const gmm::ReceivedMessage& message) {
    inbox.post_event(gmm::gmmd::ServerInbox::kMessageWatchers,
                     gmm::proto::encode_message_event({message.from, message.kind, message.sent_ns,
                                                       std::string(message.text())}));
  };
  gmm::AgentThread agent(node, events, messenger, [&inbox] { inbox.post_stop(); }, on_message, agent_log);
  std::unique_ptr<gmm::WindowSource> windows = make_window_source(pool_path, uio, pool->size());
  gmm::gmmd::RequestHandler handler(node, windows.get(), [&agent, kind = doorbell->kind] {
    return nlohmann::json{{"doorbell", {{"kind", kind}, {"wakes", agent.doorbell_wakes()}}}};
  }, &messenger);
  gmm::gmmd::Server server(*listener, handler, events, inbox);
  std::fprintf(stderr, "gmmd: node %u ready\n", node_id);
  int signo = server.run(signal_fd);

  agent.stop();
  if (signo > 0) spdlog::info("signal {} received: leaving", signo);
  if (!agent.left()) node.leave();
  liveness.stop();
  return signo >= 0 ? 0 : 1;
}
