// AgentClient against a scripted fake agent on a socketpair.
#include "agent_client.hpp"

#include <atomic>

#include <catch2/catch.hpp>

#include "fake_agent.hpp"

using gmm::Errc;
using gmm::host::AgentClient;
using gmm::host::test::FakeAgent;
using gmm::host::test::framed;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

json ok_reply(const json& request, int status, std::string out, std::string err = "") {
  return {{"id", request["id"]}, {"status", status}, {"out", out}, {"err", err}, {"truncated", false}};
}

}  // namespace

TEST_CASE("ping returns the guest's uptime", "[agent_client]") {
  FakeAgent agent([](const json& r) -> std::optional<std::string> {
    return framed({{"id", r["id"]}, {"pong", true}, {"uptime_ms", 4321}});
  });
  auto client = AgentClient::adopt(agent.take_client_fd());
  auto uptime = client.ping(1s);
  REQUIRE(uptime.ok());
  CHECK(*uptime == 4321ms);
}

TEST_CASE("run sends argv, env, stdin and timeout_ms and returns status and both streams", "[agent_client]") {
  FakeAgent agent([](const json& r) -> std::optional<std::string> {
    json reply = ok_reply(r, 3, "out", "err");
    reply["truncated"] = true;
    return framed(reply);
  });
  {
    auto client = AgentClient::adopt(agent.take_client_fd());
    AgentClient::RunOptions options;
    options.env = {{"GMM_X", "1"}};
    options.stdin_data = "input";
    auto output = client.run({"sh", "-c", "exit 3"}, 1500ms, options);
    REQUIRE(output.ok());
    CHECK(output->status == 3);
    CHECK(output->out == "out");
    CHECK(output->err == "err");
    CHECK(output->truncated);
  }
  agent.join();
  auto requests = agent.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0]["argv"] == json{"sh", "-c", "exit 3"});
  CHECK(requests[0]["env"] == json{{"GMM_X", "1"}});
  CHECK(requests[0]["stdin"] == "input");
  CHECK(requests[0]["timeout_ms"] == 1500);
  CHECK(requests[0]["id"].is_number_unsigned());
}

TEST_CASE("junk, empty lines, cut lines and replies to other ids are skipped", "[agent_client]") {
  FakeAgent agent([](const json& r) -> std::optional<std::string> {
    std::uint64_t id = r["id"];
    return std::string("$ echo junk from a shell\r\n") + "{\"id\":" + std::to_string(id) + ",\"status\":0,\"ou" +
           framed({{"id", id + 100}, {"status", 9}, {"out", "stale"}, {"err", ""}}) +
           framed({{"error", "malformed request: something else"}}) + framed(ok_reply(r, 0, "right"));
  });
  auto client = AgentClient::adopt(agent.take_client_fd());
  auto output = client.run({"true"}, 1s);
  REQUIRE(output.ok());
  CHECK(output->out == "right");
}

TEST_CASE("replies may come out of order: start and wait match them by id", "[agent_client]") {
  std::vector<json> held;
  FakeAgent agent([&](const json& r) -> std::optional<std::string> {
    held.push_back(r);
    if (held.size() < 3) return std::string();
    // answer the three in reverse
    std::string answer;
    for (auto it = held.rbegin(); it != held.rend(); ++it) answer += framed(ok_reply(*it, 0, (*it)["argv"][0]));
    return answer;
  });
  auto client = AgentClient::adopt(agent.take_client_fd());
  auto a = client.start({"a"}, 1s);
  auto b = client.start({"b"}, 1s);
  auto c = client.start({"c"}, 1s);
  REQUIRE((a.ok() && b.ok() && c.ok()));
  auto out_a = client.wait(*a);
  auto out_c = client.wait(*c);
  auto out_b = client.wait(*b);
  REQUIRE((out_a.ok() && out_b.ok() && out_c.ok()));
  CHECK(out_a->out == "a");
  CHECK(out_b->out == "b");
  CHECK(out_c->out == "c");
  CHECK(!client.wait(*a).ok());  // claimed once
}

TEST_CASE("an agent error is an invalid-argument error with the agent's reason", "[agent_client]") {
  FakeAgent agent([](const json& r) -> std::optional<std::string> {
    return framed({{"id", r["id"]}, {"error", "cannot run nope: No such file or directory"}});
  });
  auto client = AgentClient::adopt(agent.take_client_fd());
  auto output = client.run({"nope"}, 1s);
  REQUIRE(!output.ok());
  CHECK(output.error().code == Errc::kInvalidArgument);
  CHECK_THAT(output.error().message, Catch::Contains("cannot run nope: No such file or directory"));
}

TEST_CASE("a command killed at its timeout is an error that says so", "[agent_client]") {
  FakeAgent agent([](const json& r) -> std::optional<std::string> {
    json reply = ok_reply(r, 137, "");
    reply["timed_out"] = true;
    return framed(reply);
  });
  auto client = AgentClient::adopt(agent.take_client_fd());
  auto output = client.run({"sleep", "9"}, 200ms);
  REQUIRE(!output.ok());
  CHECK(output.error().code == Errc::kIo);
  CHECK_THAT(output.error().message, Catch::Contains("`sleep 9` timed out after 200 ms"));
}

TEST_CASE("no reply in time is a clear error and a late reply is ignored", "[agent_client]") {
  std::atomic<int> calls = 0;
  FakeAgent agent([&](const json& r) -> std::optional<std::string> {
    if (++calls == 1) return std::string();  // first ping: silence
    // second: the late pong of the first ping comes before this one's
    return framed({{"id", r["id"].get<int>() - 1}, {"pong", true}, {"uptime_ms", 1}}) +
           framed({{"id", r["id"]}, {"pong", true}, {"uptime_ms", 2}});
  });
  auto client = AgentClient::adopt(agent.take_client_fd());
  auto first = client.ping(100ms);
  REQUIRE(!first.ok());
  CHECK(first.error().code == Errc::kIo);
  CHECK_THAT(first.error().message, Catch::Contains("no reply from the guest agent to ping within 100 ms"));
  auto second = client.ping(1s);
  REQUIRE(second.ok());
  CHECK(*second == 2ms);
}

TEST_CASE("the agent going away is a channel error, also for later calls", "[agent_client]") {
  FakeAgent agent([](const json&) -> std::optional<std::string> { return std::nullopt; });
  auto client = AgentClient::adopt(agent.take_client_fd());
  auto output = client.run({"true"}, 5s);
  REQUIRE(!output.ok());
  CHECK(output.error().code == Errc::kIo);
  CHECK_THAT(output.error().message, Catch::Contains("closed"));
  auto again = client.ping(5s);
  REQUIRE(!again.ok());
  CHECK_THAT(again.error().message, Catch::Contains("closed"));
}

TEST_CASE("wait_ready keeps pinging until the agent answers", "[agent_client]") {
  std::atomic<int> pings = 0;
  FakeAgent agent([&](const json& r) -> std::optional<std::string> {
    if (++pings < 3) return std::string();  // "still booting"
    return framed({{"id", r["id"]}, {"pong", true}, {"uptime_ms", 777}});
  });
  auto client = AgentClient::adopt(agent.take_client_fd());
  auto uptime = client.wait_ready(5s);
  REQUIRE(uptime.ok());
  CHECK(*uptime == 777ms);
  CHECK(pings == 3);
}

TEST_CASE("wait_ready gives up with a message naming the likely causes", "[agent_client]") {
  FakeAgent agent([](const json&) -> std::optional<std::string> { return std::string(); });
  auto client = AgentClient::adopt(agent.take_client_fd());
  auto uptime = client.wait_ready(600ms);
  REQUIRE(!uptime.ok());
  CHECK_THAT(uptime.error().message, Catch::Contains("did not answer within 600 ms"));
}

TEST_CASE("connect to a socket nobody serves fails with the path", "[agent_client]") {
  auto client = AgentClient::connect("/nonexistent/gmm-node1.ctl", 100ms);
  REQUIRE(!client.ok());
  CHECK_THAT(client.error().message, Catch::Contains("/nonexistent/gmm-node1.ctl"));
}

TEST_CASE("a timeout mentions what the agent complained about meanwhile", "[agent_client]") {
  FakeAgent agent([](const json&) -> std::optional<std::string> {
    return framed({{"error", "malformed request: parse error"}});
  });
  auto client = AgentClient::adopt(agent.take_client_fd());
  auto uptime = client.ping(200ms);
  REQUIRE(!uptime.ok());
  CHECK_THAT(uptime.error().message, Catch::Contains("meanwhile the agent said: malformed request: parse error"));
}
