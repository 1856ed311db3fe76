#include "gmmctl/watch.hpp"

#include <cstdio>
#include <iostream>
#include <variant>

#include "gmmctl/print.hpp"
#include "proto/client.hpp"
#include "proto/proto.hpp"

namespace gmm::gmmctl {
namespace {

using Clock = std::chrono::steady_clock;

std::string seconds_text(std::chrono::milliseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", static_cast<double>(duration.count()) / 1000.0);
  return text;
}

}  // namespace

Status watch_events(const WatchOptions& options) {
  auto client = proto::Client::connect(options.socket);
  if (!client) return make_error(client.error().code, client.error().message + " (is gmmd running?)");
  proto::Request request;
  request.op = proto::Op::kWatch;
  request.events = options.events;
  auto reply = client->call(request, options.reply_timeout);
  if (!reply) return reply.error();
  std::cerr << "watching events on node " << reply->value("node", 0u) << "\n" << std::flush;

  const bool forever = options.timeout.count() == 0;
  const auto deadline = forever ? Clock::time_point::max() : Clock::now() + options.timeout;
  for (std::uint64_t seen = 0; options.count == 0 || seen < options.count; ++seen) {
    auto line = client->next_line(deadline, proto::kMaxEventLine);
    if (!line && client->timed_out()) {
      return make_error(Errc::kBusy, "timed out after " + seconds_text(options.timeout) + " with " +
                                         std::to_string(seen) + " of " + std::to_string(options.count) +
                                         " events");
    }
    if (!line) return line.error();
    auto decoded = proto::decode_watch_line(*line);
    if (!decoded) return make_error(Errc::kIo, "malformed event from gmmd: " + decoded.error().message);
    if (options.json) {
      std::cout << *line << "\n" << std::flush;
    } else if (const auto* event = std::get_if<Event>(&*decoded)) {
      std::cout << event_text(*event) << "\n" << std::flush;
    } else {
      const auto& message = std::get<proto::AppMessage>(*decoded);
      std::cout << "message from node " << message.from << " kind " << message.kind << ": " << printable(message.data)
                << "\n" << std::flush;
    }
  }
  return ok_status();
}

}  // namespace gmm::gmmctl
