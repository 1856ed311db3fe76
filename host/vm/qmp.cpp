#include "qmp.hpp"

#include <iterator>

#include "io/unix_socket.hpp"

namespace gmm::host::vm {

using nlohmann::json;
using std::chrono::milliseconds;

Result<QmpClient> QmpClient::connect(const std::string& path, milliseconds timeout) {
  Deadline deadline(timeout);
  auto socket = connect_unix_retry(path, timeout);
  if (!socket) return make_error(Errc::kIo, "QMP: " + socket.error().message);
  QmpClient client(std::move(*socket));
  auto greeting = client.read_message(deadline.remaining());
  if (!greeting) return greeting.error();
  if (!greeting->contains("QMP")) return make_error(Errc::kIo, "QMP: no greeting from " + path + ": " + greeting->dump());
  client.greeting_ = std::move(*greeting);
  auto negotiated = client.execute("qmp_capabilities", nullptr, deadline.remaining());
  if (!negotiated) return negotiated.error();
  return client;
}

Result<std::optional<json>> QmpClient::next_message(const Deadline& deadline) {
  for (;;) {
    auto read = reader_.next_line(deadline);
    switch (read.got) {
      case LineReader::Got::kLine: break;
      case LineReader::Got::kTimedOut: return std::optional<json>();
      case LineReader::Got::kClosed: return make_error(Errc::kIo, "QMP: connection closed (QEMU exited)");
      case LineReader::Got::kTooLong:  // no limit here
      case LineReader::Got::kFailed: return make_error(Errc::kIo, "QMP: " + read.text);
    }
    if (read.text.find_first_not_of(" \r\t") == std::string::npos) continue;
    json message = json::parse(read.text, nullptr, /*allow_exceptions=*/false);
    if (message.is_discarded() || !message.is_object())
      return make_error(Errc::kIo, "QMP: not a JSON object: " + read.text);
    return std::optional<json>(std::move(message));
  }
}

Result<json> QmpClient::read_message(milliseconds timeout) {
  auto message = next_message(Deadline(timeout));
  if (!message) return message.error();
  if (!*message) return make_error(Errc::kIo, "QMP: no answer within " + std::to_string(timeout.count()) + " ms");
  return std::move(**message);
}

QmpEvent QmpClient::to_event(const json& message) {
  QmpEvent event;
  event.name = message.value("event", "");
  event.data = message.contains("data") ? message["data"] : json();
  if (auto ts = message.find("timestamp"); ts != message.end() && ts->is_object()) {
    event.seconds = ts->value("seconds", std::int64_t{-1});
    event.microseconds = ts->value("microseconds", std::int64_t{-1});
  }
  return event;
}

Result<json> QmpClient::execute(const std::string& command, const json& arguments, milliseconds timeout) {
  const std::uint64_t id = next_id_++;
  json request = {{"execute", command}, {"id", id}};
  if (!arguments.is_null()) request["arguments"] = arguments;
  auto sent = write_all(socket_.get(), request.dump() + "\n");
  if (!sent) return make_error(Errc::kIo, "QMP " + command + ": " + sent.error().message);
  Deadline deadline(timeout);
  for (;;) {
    auto message = read_message(deadline.remaining());
    if (!message) return make_error(message.error().code, "QMP " + command + ": " + message.error().message);
    if (message->contains("event")) {
      events_.push_back(to_event(*message));
      continue;
    }
    if (message->value("id", json()) != json(id)) continue;  // an answer to someone else's id
    if (auto error = message->find("error"); error != message->end())
      return make_error(Errc::kInvalidArgument, "QMP " + command + ": " + error->value("class", "Error") + ": " +
                                                    error->value("desc", error->dump()));
    return message->value("return", json::object());
  }
}

Result<std::string> QmpClient::status(milliseconds timeout) {
  auto answer = execute("query-status", nullptr, timeout);
  if (!answer) return answer.error();
  return answer->value("status", std::string("unknown"));
}

Result<std::optional<QmpEvent>> QmpClient::next_event(milliseconds timeout) {
  if (!events_.empty()) {
    QmpEvent event = std::move(events_.front());
    events_.pop_front();
    return std::optional<QmpEvent>(std::move(event));
  }
  Deadline deadline(timeout);
  for (;;) {
    auto message = next_message(deadline);
    if (!message) return message.error();
    if (!*message) return std::optional<QmpEvent>();
    if ((*message)->contains("event")) return std::optional<QmpEvent>(to_event(**message));
  }
}

Result<std::vector<QmpEvent>> QmpClient::read_events() {
  std::vector<QmpEvent> events(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
  events_.clear();
  const Deadline now(milliseconds(0));  // whole lines already here, no waiting
  for (;;) {
    auto read = reader_.next_line(now);
    switch (read.got) {
      case LineReader::Got::kLine: break;
      case LineReader::Got::kTimedOut: return events;
      case LineReader::Got::kClosed:
        if (!events.empty()) return events;  // the next call reports the close
        return make_error(Errc::kIo, "QMP: connection closed (QEMU exited)");
      case LineReader::Got::kTooLong:  // no limit here
      case LineReader::Got::kFailed:
        if (!events.empty()) return events;
        return make_error(Errc::kIo, "QMP: " + read.text);
    }
    json message = json::parse(read.text, nullptr, /*allow_exceptions=*/false);
    // Replies (nobody asked anything here) and noise are not events.
    if (message.is_object() && message.contains("event")) events.push_back(to_event(message));
  }
}

Result<QmpEvent> QmpClient::wait_event(const std::string& name, milliseconds timeout) {
  Deadline deadline(timeout);
  for (;;) {
    auto event = next_event(deadline.remaining());
    if (!event) return make_error(event.error().code, "waiting for QMP event " + name + ": " + event.error().message);
    if (!*event) return make_error(Errc::kIo, "no QMP event " + name + " within " + std::to_string(timeout.count()) + " ms");
    if ((*event)->name == name) return std::move(**event);
  }
}

}  // namespace gmm::host::vm
