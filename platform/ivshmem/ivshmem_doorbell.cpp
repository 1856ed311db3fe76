#include "ivshmem/ivshmem_doorbell.hpp"

#include <poll.h>
#include <time.h>

#include <algorithm>
#include <cerrno>

#include "ivshmem/ivshmem_protocol.hpp"

namespace gmm::ivshmem {

Result<std::unique_ptr<ClientDoorbell>> ClientDoorbell::connect(const std::string& path, std::uint16_t expected_id,
                                                                std::uint32_t vectors, std::chrono::milliseconds timeout,
                                                                Log log) {
  auto client = Client::connect(path, vectors, timeout);
  if (!client) return make_error(client.error().code, "doorbell " + path + ": " + client.error().message);
  if (client->id() != expected_id)
    return make_error(Errc::kInvalidArgument, "doorbell " + path + ": the ivshmem server gave peer id " +
                                                  std::to_string(client->id()) + ", expected " +
                                                  std::to_string(expected_id) + " (use node " +
                                                  std::to_string(expected_id) + "'s socket)");
  return std::unique_ptr<ClientDoorbell>(new ClientDoorbell(path, std::move(*client), std::move(log)));
}

ClientDoorbell::ClientDoorbell(std::string path, Client client, Log log)
    : path_(std::move(path)),
      id_(client.id()),
      own_(client.own_eventfds()),
      socket_(client.socket()),
      log_(std::move(log)),
      client_(std::move(client)) {}

void ClientDoorbell::apply_notices() {
  if (server_gone_) return;
  auto applied = client_.apply_pending();
  if (applied) return;
  server_gone_ = true;
  if (log_)
    log_("doorbell: " + applied.error().message +
         "; still ringing the peers known so far (peers that restart are not reached until this node restarts)");
}

void ClientDoorbell::ring(std::uint32_t peer, std::uint32_t vector) {
  if (peer > kMaxPeerId) return;
  std::lock_guard guard(mutex_);
  if (client_.ring(static_cast<std::uint16_t>(peer), vector)) return;
  // Maybe the peer connected after our last look at the server's notices.
  apply_notices();
  (void)client_.ring(static_cast<std::uint16_t>(peer), vector);
}

bool ClientDoorbell::wait(std::chrono::microseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto end = Clock::now() + timeout;
  std::vector<pollfd> fds;
  for (int fd : own_) fds.push_back({fd, POLLIN, 0});
  fds.push_back({socket_, POLLIN, 0});
  for (;;) {
    {
      std::lock_guard guard(mutex_);
      if (server_gone_) fds.back().fd = -1;  // poll ignores it
    }
    const auto left = std::max(std::chrono::nanoseconds(0), std::chrono::nanoseconds(end - Clock::now()));
    const timespec ts{static_cast<time_t>(left.count() / 1'000'000'000), static_cast<long>(left.count() % 1'000'000'000)};
    const int n = ::ppoll(fds.data(), fds.size(), &ts, nullptr);
    if (n < 0 && errno != EINTR) return false;  // cannot happen with valid fds; the caller polls by period
    bool rung = false;
    for (std::size_t v = 0; v < own_.size(); ++v)
      if (drain_eventfd(own_[v]) != 0) rung = true;
    if (rung) return true;
    if (n > 0 && fds.back().revents != 0) {
      std::lock_guard guard(mutex_);
      apply_notices();
    }
    if (Clock::now() >= end) return false;
  }
}

std::vector<std::uint16_t> ClientDoorbell::peers() const {
  std::lock_guard guard(mutex_);
  return client_.peers();
}

std::string ClientDoorbell::describe() const {
  return "ivshmem server " + path_ + ", peer id " + std::to_string(id_) + ", " + std::to_string(own_.size()) + " vectors";
}

}  // namespace gmm::ivshmem
