// gmm-ivshmem-server: the ivshmem doorbell server as its own long-lived
// process (gmm-host exits after `up`; the VMs and this server stay).
//
//   gmm-ivshmem-server --shm POOL --vectors 2 --peer 0=DIR/node0.ivshmem
//                      [--peer 1=DIR/node1.ivshmem ...] [--auto PATH] [--host-peer 64]
//                      [--retain-peers] [--any-size]
//
// Prints "ready" on stdout once every socket listens; logs connects,
// disconnects and doorbells to the host peer on stderr; exits 0 on
// SIGTERM/SIGINT, removing its sockets.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "ivshmem/ivshmem_protocol.hpp"
#include "ivshmem_server.hpp"

namespace {

void log_line(std::string_view line) {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  std::fprintf(stderr, "%lld.%03ld gmm-ivshmem-server: %.*s\n", static_cast<long long>(ts.tv_sec), ts.tv_nsec / 1000000,
               static_cast<int>(line.size()), line.data());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gmm-ivshmem-server: QEMU ivshmem doorbell server for the GMM VM testbed"};
  gmm::host::vm::IvshmemServer::Options options;
  std::vector<std::string> peers;
  std::string auto_path;
  int host_peer = -1;
  options.log = log_line;
  app.add_option("--shm", options.shm_path, "pool file (power-of-two size)")->required();
  app.add_option("--vectors", options.vectors, "interrupt vectors per peer (= ivshmem-doorbell vectors=)")->capture_default_str();
  app.add_option("--peer", peers, "ID=SOCKET: connections on SOCKET get peer id ID (repeatable)");
  app.add_option("--auto", auto_path, "SOCKET: connections get the lowest free id");
  app.add_option("--host-peer", host_peer, "be peer ID too (guests can ring it)")->check(CLI::Range(0, 65535));
  app.add_flag("--retain-peers", options.retain_peers,
               "a --peer that disconnects keeps its eventfds and nobody is told; its next client gets them "
               "(works around QEMU 7.2's use-after-free when a peer id reconnects)");
  app.add_flag("--any-size", options.any_size,
               "serve a pool whose size is not a power of two (process mode: no VM maps it)");
  CLI11_PARSE(app, argc, argv);

  for (const auto& p : peers) {
    auto eq = p.find('=');
    int id = -1;
    try {
      id = eq == std::string::npos ? -1 : std::stoi(p.substr(0, eq));
    } catch (const std::exception&) {
    }
    if (id < 0 || id > 65535) {
      std::fprintf(stderr, "gmm-ivshmem-server: --peer %s: expected ID=SOCKET with ID 0..65535\n", p.c_str());
      return 2;
    }
    options.listeners.push_back({p.substr(eq + 1), static_cast<std::uint16_t>(id)});
  }
  if (!auto_path.empty()) options.listeners.push_back({auto_path, std::nullopt});
  if (host_peer >= 0) options.host_peer = static_cast<std::uint16_t>(host_peer);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before the server thread exists
  int signal_fd = ::signalfd(-1, &signals, SFD_CLOEXEC);

  auto server = gmm::host::vm::IvshmemServer::create(options);
  if (!server) {
    std::fprintf(stderr, "gmm-ivshmem-server: %s\n", server.error().message.c_str());
    return 1;
  }
  auto& s = **server;
  gmm::Status outcome = gmm::ok_status();
  std::thread loop([&] { outcome = s.run(); });
  std::printf("ready\n");
  std::fflush(stdout);
  log_line("serving pool " + options.shm_path + " (" + std::to_string(s.shm_size()) + " bytes), " +
           std::to_string(options.vectors) + " vectors");

  std::vector<pollfd> fds{{signal_fd, POLLIN, 0}};
  for (std::uint32_t v = 0; options.host_peer && v < options.vectors; ++v) fds.push_back({s.host_eventfd(v), POLLIN, 0});
  for (bool running = true; running;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents & POLLIN) running = false;
    for (std::size_t v = 1; v < fds.size(); ++v)
      if (auto count = gmm::ivshmem::drain_eventfd(fds[v].fd))
        log_line("host peer " + std::to_string(host_peer) + ": vector " + std::to_string(v - 1) + " rung (" +
                 std::to_string(count) + "x)");
  }
  s.stop();
  loop.join();
  log_line("stopped");
  if (!outcome) {
    std::fprintf(stderr, "gmm-ivshmem-server: %s\n", outcome.error().message.c_str());
    return 1;
  }
  return 0;
}
