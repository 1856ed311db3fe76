#include "protocol.hpp"

#include <sys/wait.h>

#include <catch2/catch.hpp>

using namespace gmm::agent;
using nlohmann::json;

TEST_CASE("a run request with every field parses", "[agent]") {
  Request request = parse_request(
      R"({"id":7,"argv":["sh","-c","echo $A"],"env":{"A":"1","B":"x y"},"timeout_ms":2500,"stdin":"in\n"})");
  auto* run = std::get_if<RunRequest>(&request);
  REQUIRE(run != nullptr);
  CHECK(run->id == 7);
  CHECK(run->argv == std::vector<std::string>{"sh", "-c", "echo $A"});
  CHECK(run->env == std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B", "x y"}});
  CHECK(run->timeout == std::chrono::milliseconds(2500));
  CHECK(run->stdin_data == "in\n");
}

TEST_CASE("optional fields may be missing or null", "[agent]") {
  Request request = parse_request(R"({"id":"a","argv":["true"],"env":null,"timeout_ms":null})");
  auto* run = std::get_if<RunRequest>(&request);
  REQUIRE(run != nullptr);
  CHECK(run->id == "a");
  CHECK(run->env.empty());
  CHECK(!run->timeout);
  CHECK(!run->stdin_data);
}

TEST_CASE("a ping parses", "[agent]") {
  Request request = parse_request(R"({"id":3,"ping":true})");
  REQUIRE(std::holds_alternative<PingRequest>(request));
  CHECK(std::get<PingRequest>(request).id == 3);
}

TEST_CASE("malformed requests are refused with a reason", "[agent]") {
  struct Case {
    const char* line;
    bool has_id;
    const char* reason;
  };
  auto c = GENERATE(Case{"not json", false, "malformed request"}, Case{"[1,2]", false, "not a JSON object"},
                    Case{R"({"argv":["true"]})", false, "no id"}, Case{R"({"id":1.5,"argv":["x"]})", false, "no id"},
                    Case{R"({"id":1})", true, "neither argv nor ping"},
                    Case{R"({"id":1,"ping":"yes"})", true, "neither argv nor ping"},
                    Case{R"({"id":1,"argv":[]})", true, "non-empty array"},
                    Case{R"({"id":1,"argv":"ls"})", true, "non-empty array"},
                    Case{R"({"id":1,"argv":["ls",3]})", true, "non-empty array"},
                    Case{R"({"id":1,"argv":["a\u0000b"]})", true, "NUL"},
                    Case{R"({"id":1,"argv":["x"],"env":["A=1"]})", true, "env must be an object"},
                    Case{R"({"id":1,"argv":["x"],"env":{"A":1}})", true, "must be a string"},
                    Case{R"({"id":1,"argv":["x"],"env":{"A=B":"1"}})", true, "not usable"},
                    Case{R"({"id":1,"argv":["x"],"timeout_ms":-1})", true, "timeout_ms"},
                    Case{R"({"id":1,"argv":["x"],"timeout_ms":"5"})", true, "timeout_ms"},
                    Case{R"({"id":1,"argv":["x"],"stdin":5})", true, "stdin must be a string"});
  CAPTURE(c.line);
  Request request = parse_request(c.line);
  auto* bad = std::get_if<BadRequest>(&request);
  REQUIRE(bad != nullptr);
  CHECK(bad->id.is_null() == !c.has_id);
  CHECK_THAT(bad->message, Catch::Contains(c.reason));
}

TEST_CASE("invalid UTF-8 in a request is a malformed request, not a crash", "[agent]") {
  Request request = parse_request("{\"id\":1,\"argv\":[\"\xff\"]}");
  REQUIRE(std::holds_alternative<BadRequest>(request));
}

TEST_CASE("BoundedOutput keeps the first bytes and flags the rest", "[agent]") {
  BoundedOutput output(5);
  output.append("abc");
  CHECK(!output.truncated());
  output.append("de");
  CHECK(output.text() == "abcde");
  CHECK(!output.truncated());
  output.append("f");
  CHECK(output.text() == "abcde");
  CHECK(output.truncated());
}

TEST_CASE("exit statuses follow the shell: 128 + signal when killed", "[agent]") {
  CHECK(exit_status(3 << 8) == 3);  // what WIFEXITED/WEXITSTATUS decode on Linux
  CHECK(exit_status(SIGKILL) == 137);
  CHECK(exit_status(SIGSEGV | 0x80) == 128 + SIGSEGV);  // with a core dump
}

TEST_CASE("a run reply carries status, both streams and the flags", "[agent]") {
  RunResult result{3, "out\n", "err\n", true, false};
  json reply = json::parse(run_reply(7, result));
  CHECK(reply == json{{"id", 7}, {"status", 3}, {"out", "out\n"}, {"err", "err\n"}, {"truncated", true}});
  result.timed_out = true;
  CHECK(json::parse(run_reply("x", result))["timed_out"] == true);
}

TEST_CASE("output that is not UTF-8 becomes U+FFFD and the reply stays one JSON line", "[agent]") {
  RunResult result{0, std::string("ok\xff\xfe\n", 5), std::string("\0z", 2), false, false};
  std::string line = run_reply(1, result);
  CHECK(line.find('\n') == std::string::npos);
  json reply = json::parse(line);
  CHECK(reply["out"] == "ok\xEF\xBF\xBD\xEF\xBF\xBD\n");
  CHECK(reply["err"] == std::string("\0z", 2));
}

TEST_CASE("pong and error replies", "[agent]") {
  CHECK(json::parse(pong_reply(4, 1234)) == json{{"id", 4}, {"pong", true}, {"uptime_ms", 1234}});
  CHECK(json::parse(error_reply(5, "cannot run x: No such file or directory")) ==
        json{{"id", 5}, {"error", "cannot run x: No such file or directory"}});
  CHECK(json::parse(error_reply(nullptr, "malformed request")) == json{{"error", "malformed request"}});
}
