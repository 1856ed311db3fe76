#include "uio/uio_doorbell.hpp"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

namespace gmm {

void UioDoorbell::ring(std::uint32_t peer, std::uint32_t vector) {
  if (peer > 0xffff || vector > 0xffff) return;  // the register has 16 bits for each
  (void)pool_.ring(static_cast<std::uint16_t>(peer), static_cast<std::uint16_t>(vector));
}

bool UioDoorbell::wait(std::chrono::microseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto end = Clock::now() + timeout;
  pollfd p{pool_.event_fd(), POLLIN, 0};
  for (;;) {
    const auto left = std::max(std::chrono::nanoseconds(0), std::chrono::nanoseconds(end - Clock::now()));
    const timespec ts{static_cast<time_t>(left.count() / 1'000'000'000), static_cast<long>(left.count() % 1'000'000'000)};
    const int n = ::ppoll(&p, 1, &ts, nullptr);
    if (n > 0) {
      // The count since the device appeared; reading it re-arms poll().
      std::uint32_t count = 0;
      return ::read(p.fd, &count, sizeof(count)) == static_cast<ssize_t>(sizeof(count));
    }
    if (n == 0 || Clock::now() >= end) return false;  // n < 0: EINTR, wait on
  }
}

}  // namespace gmm
