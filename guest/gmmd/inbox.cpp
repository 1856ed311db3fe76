#include "gmmd/inbox.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <utility>

namespace gmm::gmmd {

ServerInbox::ServerInbox() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

ServerInbox::~ServerInbox() {
  if (fd_ >= 0) ::close(fd_);
}

void ServerInbox::post_event(std::uint64_t watcher, std::string line) {
  {
    std::lock_guard guard(mutex_);
    if (events_.size() >= kMaxQueued) {
      ++dropped_;
      return;
    }
    events_.push_back(EventLine{watcher, std::move(line)});
  }
  wake();
}

void ServerInbox::post_stop() {
  {
    std::lock_guard guard(mutex_);
    stop_ = true;
  }
  wake();
}

std::vector<ServerInbox::EventLine> ServerInbox::take_events() {
  std::uint64_t count = 0;
  (void)!::read(fd_, &count, sizeof count);  // nonblocking: just clears the counter
  std::lock_guard guard(mutex_);
  return std::exchange(events_, {});
}

bool ServerInbox::stop_requested() {
  std::lock_guard guard(mutex_);
  return stop_;
}

std::uint64_t ServerInbox::dropped() {
  std::lock_guard guard(mutex_);
  return dropped_;
}

void ServerInbox::wake() {
  std::uint64_t one = 1;
  (void)!::write(fd_, &one, sizeof one);
}

}  // namespace gmm::gmmd
