#include "launcher/liveness.hpp"

#include <sys/epoll.h>

#include <cerrno>

#include "gmm/clock.hpp"
#include "io/deadline.hpp"
#include "io/unix_socket.hpp"

namespace gmm::host {

std::string_view node_event_name(NodeEventKind kind) {
  switch (kind) {
    case NodeEventKind::kExited: return "exited";
    case NodeEventKind::kStopped: return "stopped";
    case NodeEventKind::kResumed: return "resumed";
    case NodeEventKind::kPanicked: return "panicked";
    case NodeEventKind::kShutdown: return "shutdown";
  }
  return "?";
}

EventSource::Read ProcessExitSource::read() {
  std::string detail = what_ + " pid " + std::to_string(process_.pid()) + " " +
                       process_.exit_description().value_or("exited");
  return Read{{NodeEvent{node_, NodeEventKind::kExited, realtime_ns(), std::move(detail)}}, /*ended=*/true};
}

Result<LivenessStream> LivenessStream::create() {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return make_error(Errc::kIo, errno_text("epoll_create1"));
  return LivenessStream(std::move(epoll));
}

Status LivenessStream::add(std::unique_ptr<EventSource> source) {
  epoll_event interest{};
  interest.events = EPOLLIN;
  interest.data.fd = source->fd();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, source->fd(), &interest) != 0) {
    return make_error(Errc::kIo, errno_text("epoll_ctl"));
  }
  sources_[source->fd()] = std::move(source);
  return ok_status();
}

void LivenessStream::report(NodeEvent event) { queued_.push_back(std::move(event)); }

void LivenessStream::drop(int fd) {
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  sources_.erase(fd);
}

Result<std::optional<NodeEvent>> LivenessStream::next(std::chrono::milliseconds timeout) {
  Deadline deadline(timeout);
  while (queued_.empty()) {
    epoll_event ready[16];
    int count = ::epoll_wait(epoll_.get(), ready, 16, static_cast<int>(deadline.remaining().count()));
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return make_error(Errc::kIo, errno_text("epoll_wait"));
    if (count == 0) return std::optional<NodeEvent>();
    for (int i = 0; i < count; ++i) {
      auto source = sources_.find(ready[i].data.fd);
      if (source == sources_.end()) continue;  // dropped by an earlier entry of this batch
      EventSource::Read read = source->second->read();
      for (NodeEvent& event : read.events) queued_.push_back(std::move(event));
      if (read.ended) drop(ready[i].data.fd);
    }
  }
  NodeEvent event = std::move(queued_.front());
  queued_.pop_front();
  return std::optional<NodeEvent>(std::move(event));
}

}  // namespace gmm::host
