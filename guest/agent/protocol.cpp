#include "protocol.hpp"

#include <sys/wait.h>

namespace gmm::agent {
namespace {

using nlohmann::json;

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool usable_id(const json& id) { return id.is_number_integer() || id.is_string(); }

// Fills `request` from the fields of a run request; returns an error message or "".
std::string read_run_fields(const json& object, RunRequest& request) {
  const json& argv = object.at("argv");
  if (!argv.is_array() || argv.empty()) return "argv must be a non-empty array of strings";
  for (const json& word : argv) {
    if (!word.is_string()) return "argv must be a non-empty array of strings";
    const auto& text = word.get_ref<const std::string&>();
    if (text.find('\0') != std::string::npos) return "argv words cannot contain NUL bytes";
    request.argv.push_back(text);
  }
  if (auto env = object.find("env"); env != object.end() && !env->is_null()) {
    if (!env->is_object()) return "env must be an object of strings";
    for (const auto& [key, value] : env->items()) {
      if (!value.is_string()) return "env value of " + key + " must be a string";
      const auto& text = value.get_ref<const std::string&>();
      if (key.empty() || key.find_first_of(std::string_view("=\0", 2)) != std::string::npos ||
          text.find('\0') != std::string::npos) {
        return "env name '" + key + "' or its value is not usable";
      }
      request.env.emplace_back(key, text);
    }
  }
  if (auto timeout = object.find("timeout_ms"); timeout != object.end() && !timeout->is_null()) {
    if (!timeout->is_number_integer() || timeout->get<std::int64_t>() < 0) {
      return "timeout_ms must be a non-negative integer";
    }
    request.timeout = std::chrono::milliseconds(timeout->get<std::int64_t>());
  }
  if (auto input = object.find("stdin"); input != object.end() && !input->is_null()) {
    if (!input->is_string()) return "stdin must be a string";
    request.stdin_data = input->get<std::string>();
  }
  return "";
}

}  // namespace

Request parse_request(std::string_view line) {
  json object;
  try {
    object = json::parse(line);
  } catch (const json::parse_error& e) {
    return BadRequest{nullptr, std::string("malformed request: ") + e.what()};
  }
  if (!object.is_object()) return BadRequest{nullptr, "malformed request: not a JSON object"};
  auto id = object.find("id");
  if (id == object.end() || !usable_id(*id)) {
    return BadRequest{nullptr, "malformed request: no id (an integer or a string)"};
  }
  if (auto ping = object.find("ping"); ping != object.end() && *ping == true) return PingRequest{*id};
  if (!object.contains("argv")) return BadRequest{*id, "malformed request: neither argv nor ping"};
  RunRequest request{*id, {}, {}, {}, {}};
  if (std::string problem = read_run_fields(object, request); !problem.empty()) {
    return BadRequest{*id, "malformed request: " + problem};
  }
  return request;
}

void BoundedOutput::append(std::string_view data) {
  std::size_t room = limit_ - text_.size();
  if (data.size() > room) {
    truncated_ = true;
    data = data.substr(0, room);
  }
  text_.append(data);
}

int exit_status(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

std::string run_reply(const nlohmann::json& id, const RunResult& result) {
  json reply = {{"id", id},
                {"status", result.status},
                {"out", result.out},
                {"err", result.err},
                {"truncated", result.truncated}};
  if (result.timed_out) reply["timed_out"] = true;
  return dump(reply);
}

std::string pong_reply(const nlohmann::json& id, std::int64_t uptime_ms) {
  return dump({{"id", id}, {"pong", true}, {"uptime_ms", uptime_ms}});
}

std::string error_reply(const nlohmann::json& id, std::string_view message) {
  json reply = {{"error", message}};
  if (!id.is_null()) reply["id"] = id;
  return dump(reply);
}

}  // namespace gmm::agent
