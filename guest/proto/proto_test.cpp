#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <variant>
#include <vector>

#include "proto/proto.hpp"

using namespace gmm::proto;
using gmm::Errc;
using gmm::Placement;
using nlohmann::json;

namespace {

// The decoder must refuse `line` with kInvalidArgument and a message
// containing `why`.
void require_rejected(const std::string& line, const std::string& why) {
  INFO("request: " << line.substr(0, 200));
  auto decoded = decode_request(line);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == Errc::kInvalidArgument);
  CHECK_THAT(decoded.error().message, Catch::Contains(why));
}

Request make(Op op, std::string name = "") {
  Request request;
  request.op = op;
  request.name = std::move(name);
  return request;
}

}  // namespace

TEST_CASE("every request survives encode then decode", "[proto]") {
  Request alloc_local = make(Op::kAlloc, "a");
  alloc_local.size = 4096;
  Request alloc_on = make(Op::kAlloc, "b");
  alloc_on.size = 1;
  alloc_on.where = Placement::on(2);
  Request alloc_any = make(Op::kAlloc, "c");
  alloc_any.size = 1ULL << 40;
  alloc_any.where = Placement::anywhere();
  Request write = make(Op::kWrite, "w");
  write.offset = 17;
  write.data = std::string("bin\0ary\xff\n", 9);
  Request read = make(Op::kRead, "r");
  read.offset = 3;
  read.length = gmm::proto::kMaxIoLength;
  Request watch_some = make(Op::kWatch);
  watch_some.events = gmm::proto::event_bit(gmm::layout::EventKind::kNodeFailed) |
                      gmm::proto::event_bit(gmm::layout::EventKind::kNodeJoined);

  for (const Request& request :
       {make(Op::kPing), make(Op::kList), make(Op::kStat), make(Op::kOpen, "o"), make(Op::kClose, "c"),
        make(Op::kFree, "f"), alloc_local, alloc_on, alloc_any, write, read, make(Op::kWatch), watch_some}) {
    std::string line = encode_request(request);
    INFO(line);
    CHECK(line.find('\n') == std::string::npos);
    auto decoded = decode_request(line);
    REQUIRE(decoded.ok());
    CHECK(*decoded == request);
    auto with_newline = decode_request(line + "\n");
    REQUIRE(with_newline.ok());
    CHECK(*with_newline == request);
  }
}

TEST_CASE("hand-written requests decode", "[proto]") {
  auto alloc = decode_request(R"({"op":"alloc","name":"x","size":8192,"where":"node","node":3})");
  REQUIRE(alloc.ok());
  CHECK(alloc->op == Op::kAlloc);
  CHECK(alloc->name == "x");
  CHECK(alloc->size == 8192);
  CHECK(alloc->where.kind == Placement::Kind::kNode);
  CHECK(alloc->where.node == 3);

  auto write = decode_request(R"({"op":"write","name":"x","offset":0,"data_b64":"aGVsbG8="})");
  REQUIRE(write.ok());
  CHECK(write->data == "hello");
}

TEST_CASE("malformed JSON is rejected", "[proto]") {
  for (const char* line : {"", "{", "not json", "{\"op\":\"ping\"", "{\"op\":\"ping\"}}", "{'op':'ping'}",
                           "{\"op\":\"ping\",}", "\x01\x02"}) {
    require_rejected(line, "not valid JSON");
  }
  require_rejected("{\"op\":\"open\",\"name\":\"\xff\xfe\"}", "not valid JSON");  // invalid UTF-8
}

TEST_CASE("non-objects and bad ops are rejected", "[proto]") {
  for (const char* line : {"[]", "42", "null", "\"ping\"", "true"}) require_rejected(line, "must be a JSON object");
  require_rejected(R"({})", "missing field \"op\"");
  require_rejected(R"({"op":7})", "\"op\" must be a string");
  require_rejected(R"({"op":"format_disk"})", "unknown op \"format_disk\"");
  require_rejected(R"({"op":"PING"})", "unknown op");
}

TEST_CASE("missing, mistyped and unexpected fields are rejected", "[proto]") {
  require_rejected(R"({"op":"alloc","name":"a","where":"local"})", "missing field \"size\"");
  require_rejected(R"({"op":"alloc","size":1,"where":"local"})", "missing field \"name\"");
  require_rejected(R"({"op":"alloc","name":"a","size":1})", "missing field \"where\"");
  require_rejected(R"({"op":"alloc","name":"a","size":"4K","where":"local"})", "\"size\" must be a non-negative integer");
  require_rejected(R"({"op":"alloc","name":"a","size":-1,"where":"local"})", "\"size\" must be a non-negative integer");
  require_rejected(R"({"op":"alloc","name":"a","size":1.5,"where":"local"})", "\"size\" must be a non-negative integer");
  require_rejected(R"({"op":"alloc","name":"a","size":1e3,"where":"local"})", "\"size\" must be a non-negative integer");
  require_rejected(R"({"op":"alloc","name":5,"size":1,"where":"local"})", "\"name\" must be a string");
  require_rejected(R"({"op":"alloc","name":"","size":1,"where":"local"})", "must not be empty");
  require_rejected(R"({"op":"open","name":"a\u0000b"})", "must not contain NUL");
  require_rejected(R"({"op":"alloc","name":"a","size":1,"where":"north"})", "\"where\" must be");
  require_rejected(R"({"op":"alloc","name":"a","size":1,"where":"node"})", "missing field \"node\"");
  require_rejected(R"({"op":"alloc","name":"a","size":1,"where":"local","node":1})", "only valid with");
  require_rejected(R"({"op":"alloc","name":"a","size":1,"where":"node","node":64})", "must be below 64");
  require_rejected(R"({"op":"alloc","name":"a","size":1,"where":"node","node":-2})", "non-negative integer");
  require_rejected(R"({"op":"open","name":null})", "\"name\" must be a string");
  require_rejected(R"({"op":"open","nmae":"a"})", "unexpected field \"nmae\"");
  require_rejected(R"({"op":"ping","name":"a"})", "unexpected field \"name\"");
  require_rejected(R"({"op":"read","name":"a","offset":0})", "missing field \"length\"");
  require_rejected(R"({"op":"read","name":"a","offset":true,"length":1})", "\"offset\" must be");
  require_rejected(R"({"op":"write","name":"a","offset":0,"data":"hi"})", "unexpected field \"data\"");
  require_rejected(R"({"op":"write","name":"a","offset":0,"data_b64":"not base64!"})", "not valid base64");
  require_rejected(R"({"op":"write","name":"a","offset":0,"data_b64":5})", "\"data_b64\" must be a string");
}

TEST_CASE("oversized lines and lengths are rejected", "[proto]") {
  const std::size_t limit = gmm::proto::kMaxRequestLine;

  SECTION("a write line just under the limit is accepted, one byte more is not") {
    std::string head = R"({"op":"write","name":"a","offset":0,"data_b64":")";
    std::string tail = "\"}";
    std::string payload((limit - head.size() - tail.size()) / 4 * 4, 'A');
    std::string line = head + payload + tail;
    REQUIRE(line.size() <= limit);
    CHECK(decode_request(line).ok());
    std::string padded = std::string(limit - line.size() + 1, ' ') + line;  // whitespace is valid JSON
    REQUIRE(padded.size() == limit + 1);
    require_rejected(padded, "longer than 65536 bytes");
  }
  SECTION("a huge line is rejected without parsing it") {
    require_rejected(std::string(10 * limit, '['), "longer than");
    require_rejected(R"({"op":"open","name":")" + std::string(limit, 'n') + "\"}", "longer than");
  }
  SECTION("read length is bounded") {
    auto max = std::to_string(gmm::proto::kMaxIoLength);
    CHECK(decode_request(R"({"op":"read","name":"a","offset":0,"length":)" + max + "}").ok());
    auto over = std::to_string(gmm::proto::kMaxIoLength + 1);
    require_rejected(R"({"op":"read","name":"a","offset":0,"length":)" + over + "}", "exceeds the limit");
    require_rejected(R"({"op":"read","name":"a","offset":0,"length":18446744073709551615})", "exceeds the limit");
    require_rejected(R"({"op":"read","name":"a","offset":0,"length":18446744073709551616})", "must be");
  }
  SECTION("a write of more than the I/O limit cannot be sent") {
    Request write = make(Op::kWrite, "a");
    write.data = std::string(gmm::proto::kMaxIoLength + 1, 'x');
    CHECK_FALSE(decode_request(encode_request(write)).ok());
  }
}

TEST_CASE("deep nesting is rejected before parsing", "[proto]") {
  std::string deep = std::string(5000, '[') + std::string(5000, ']');
  require_rejected(deep, "nested too deeply");
  require_rejected(R"({"op":"ping","x":)" + std::string(20, '{') + "}", "nested too deeply");
  // Brackets inside strings do not count.
  auto quoted = decode_request(R"({"op":"open","name":"[[[[[[[[[[[[[[[[[[[[\"{{{{{{{{{{{{"})");
  REQUIRE(quoted.ok());
  CHECK(quoted->name == "[[[[[[[[[[[[[[[[[[[[\"{{{{{{{{{{{{");
}

TEST_CASE("replies carry a body or an error", "[proto]") {
  auto body = decode_reply(gmm::proto::encode_reply(json{{"node", 2}}));
  REQUIRE(body.ok());
  CHECK((*body)["node"] == 2);
  CHECK((*body)["ok"] == true);

  auto error = decode_reply(gmm::proto::encode_error(gmm::make_error(Errc::kExists, "name already exists")));
  REQUIRE_FALSE(error.ok());
  CHECK(error.error().code == Errc::kExists);
  CHECK(error.error().message == "name already exists");

  auto raw = json::parse(gmm::proto::encode_error(gmm::make_error(Errc::kNoSpace, "full")));
  CHECK(raw["ok"] == false);
  CHECK(raw["error"] == std::string(gmm::errc_name(Errc::kNoSpace)));

  for (const char* bad : {"", "[]", "{}", R"({"ok":"yes"})", R"({"ok":false})", R"({"ok":false,"error":"kExists"})",
                          R"({"ok":false,"error":"kNoSuchThing","message":"x"})", "{\"ok\":true"}) {
    INFO(bad);
    auto decoded = decode_reply(bad);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == Errc::kIo);
  }
}

TEST_CASE("every error code name maps back", "[proto]") {
  for (int code = 0; code <= static_cast<int>(Errc::kIo); ++code) {
    auto errc = static_cast<Errc>(code);
    CHECK(gmm::proto::errc_from_name(gmm::errc_name(errc)) == errc);
  }
  CHECK_FALSE(gmm::proto::errc_from_name("kNope").has_value());
}

TEST_CASE("base64 round-trips any bytes and rejects junk", "[proto]") {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes.push_back(static_cast<char>(i * 37));
    auto encoded = gmm::proto::base64_encode(bytes);
    CHECK(encoded.size() % 4 == 0);
    CHECK(gmm::proto::base64_decode(encoded) == bytes);
  }
  CHECK(gmm::proto::base64_encode("hello") == "aGVsbG8=");
  CHECK(gmm::proto::base64_decode("") == std::string());
  for (const char* bad : {"a", "abc", "a===", "ab=c", "====", "@@@@", "aGVs bG8=", "aGVsbG8=aGVs"}) {
    INFO(bad);
    CHECK_FALSE(gmm::proto::base64_decode(bad).has_value());
  }
}

TEST_CASE("section JSON lists sharer nodes", "[proto]") {
  gmm::SectionInfo section;
  section.gid = gmm::Gid{(std::uint64_t{1} << 32) | 7};
  section.name = "s";
  section.home_node = 2;
  section.size = 8192;
  section.sharer_nodes = 0b1001;
  section.sharers = 2;
  json j = gmm::proto::section_json(section);
  CHECK(j["name"] == "s");
  CHECK(j["home_node"] == 2);
  CHECK(j["size"] == 8192);
  CHECK(j["sharer_nodes"] == json::array({0, 3}));
  CHECK(j["gid"] == gmm::to_string(section.gid));
}

TEST_CASE("watch requests name known events", "[proto]") {
  auto all = decode_request(R"({"op":"watch"})");
  REQUIRE(all.ok());
  CHECK(all->op == Op::kWatch);
  CHECK(all->events == 0);
  auto some = decode_request(R"({"op":"watch","events":["memory-lost","node-leaving","memory-lost"]})");
  REQUIRE(some.ok());
  CHECK(some->events == (gmm::proto::event_bit(gmm::layout::EventKind::kMemoryLost) |
                         gmm::proto::event_bit(gmm::layout::EventKind::kNodeLeaving)));

  require_rejected(R"({"op":"watch","events":[]})", "non-empty array");
  require_rejected(R"({"op":"watch","events":"node-failed"})", "non-empty array");
  require_rejected(R"({"op":"watch","events":["a","b","c","d","e","f"]})", "at most 5");
  auto messages = decode_request(R"({"op":"watch","events":["message"]})");
  REQUIRE(messages.ok());
  CHECK(messages->events == gmm::proto::kMessageEventBit);
  require_rejected(R"({"op":"watch","events":["node-exploded"]})", "unknown event \"node-exploded\"");
  require_rejected(R"({"op":"watch","events":[3]})", "unknown event 3");
  require_rejected(R"({"op":"watch","name":"x"})", "unexpected field \"name\"");
}

TEST_CASE("event lines survive encode then decode", "[proto]") {
  using gmm::layout::EventKind;
  for (EventKind kind : {EventKind::kNodeFailed, EventKind::kMemoryLost, EventKind::kNodeLeaving,
                         EventKind::kNodeJoined}) {
    gmm::Event event{kind, 63, 0xFFFFFFFFu, 0xFFFFFFFFFFFFFFFFull};
    std::string line = gmm::proto::encode_event(event);
    INFO(line);
    CHECK(line.size() <= gmm::proto::kMaxEventLine);
    auto decoded = gmm::proto::decode_event(line);
    REQUIRE(decoded.ok());
    CHECK(decoded->kind == kind);
    CHECK(decoded->node == 63);
    CHECK(decoded->incarnation == 0xFFFFFFFFu);
    CHECK(decoded->sequence == 0xFFFFFFFFFFFFFFFFull);
  }
  auto failed = gmm::proto::decode_event(R"({"event":"node-failed","node":2,"incarnation":1,"sequence":7})");
  REQUIRE(failed.ok());
  CHECK(failed->kind == EventKind::kNodeFailed);
  CHECK(failed->node == 2);
  // Fields a later gmmd may add are ignored.
  CHECK(gmm::proto::decode_event(R"({"event":"node-joined","node":1,"incarnation":2,"sequence":3,"x":[1]})").ok());
}

TEST_CASE("malformed event lines are refused", "[proto]") {
  auto refused = [](const std::string& line, const std::string& why) {
    INFO(line.substr(0, 200));
    auto decoded = gmm::proto::decode_event(line);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == Errc::kIo);
    CHECK_THAT(decoded.error().message, Catch::Contains(why));
  };
  refused("", "not a JSON object");
  refused("[1]", "not a JSON object");
  refused("{\"event\":", "not a JSON object");
  refused(R"({"node":2,"incarnation":1,"sequence":7})", "no known \"event\"");
  refused(R"({"event":"node-exploded","node":2,"incarnation":1,"sequence":7})", "no known \"event\"");
  refused(R"({"event":"none","node":2,"incarnation":1,"sequence":7})", "no known \"event\"");
  refused(R"({"event":"node-failed","incarnation":1,"sequence":7})", "\"node\" is missing or out of range");
  refused(R"({"event":"node-failed","node":64,"incarnation":1,"sequence":7})", "\"node\"");
  refused(R"({"event":"node-failed","node":-1,"incarnation":1,"sequence":7})", "\"node\"");
  refused(R"({"event":"node-failed","node":1,"incarnation":4294967296,"sequence":7})", "\"incarnation\"");
  refused(R"({"event":"node-failed","node":1,"incarnation":1,"sequence":"7"})", "\"sequence\"");
  refused(std::string(gmm::proto::kMaxEventLine + 1, ' '), "longer than");
  refused(std::string(100, '[') + std::string(100, ']'), "nested too deeply");
}

// Found by the request fuzzer (guest/proto/fuzz): client text went into
// refusal messages raw, so a request could put line breaks and terminal
// escapes into gmmd's log, and up to 64 KiB of it.
TEST_CASE("refusals quote client text on one printable line of bounded length", "[proto]") {
  const std::string long_name(5000, 'x');
  const std::vector<std::string> lines{R"({"op":"\n\u001b[31m"})", R"({"op":")" + long_name + R"("})",
                                       R"({"op":"open","name":"a","\r\nfake log line":1})",
                                       R"({"op":"watch","events":["\u007f\u00e9"]})",
                                       R"({"op":"watch","events":[{"a":")" + long_name + R"("}]})"};
  for (const std::string& line : lines) {
    INFO("request: " << line.substr(0, 80));
    auto decoded = decode_request(line);
    REQUIRE_FALSE(decoded.ok());
    const std::string& message = decoded.error().message;
    CHECK(message.size() <= gmm::proto::kMaxErrorMessage);
    CHECK(std::all_of(message.begin(), message.end(), [](char c) { return c >= 0x20 && c < 0x7f; }));
  }
  require_rejected(R"({"op":"\n\u001b[31m"})", R"(unknown op "\n\u001b[31m")");
  require_rejected(R"({"op":")" + long_name + R"("})", "unknown op \"xxxx");
  require_rejected(R"({"op":"watch","events":["\u007f\u00e9"]})", R"(unknown event "\u007f\u00e9")");
}

TEST_CASE("application requests survive encode then decode", "[proto]") {
  Request alloc_mode = make(Op::kAlloc, "m");
  alloc_mode.size = 4096;
  alloc_mode.mode = 0640;
  Request by_name = make(Op::kAcquire, "a");
  by_name.writable = true;
  Request by_gid = make(Op::kAcquire);
  by_gid.gid = gmm::Gid{0x0000000300000007ULL};
  Request relinquish = make(Op::kRelinquish);
  relinquish.gid = by_gid.gid;
  Request mutex = make(Op::kMutexCreate, "mx");
  mutex.mode = 0666;
  Request event = make(Op::kEventCreate, "ev");
  event.manual_reset = true;
  event.signaled = true;
  for (const Request& request :
       {alloc_mode, by_name, by_gid, relinquish, mutex, make(Op::kMutexCreate, "plain"), event,
        make(Op::kEventCreate, "auto"), make(Op::kMutexLock, "mx"), make(Op::kMutexUnlock, "mx"),
        make(Op::kEventSet, "ev"), make(Op::kEventReset, "ev"), make(Op::kEventWait, "ev"),
        make(Op::kSyncDestroy, "ev"), make(Op::kWhoami)}) {
    std::string line = encode_request(request);
    INFO(line);
    auto decoded = decode_request(line);
    REQUIRE(decoded.ok());
    CHECK(*decoded == request);
  }
}

TEST_CASE("malformed application requests are rejected", "[proto]") {
  require_rejected(R"({"op":"acquire","name":"a"})", "missing field \"access\"");
  require_rejected(R"({"op":"acquire","access":"read"})", "exactly one of \"name\" and \"gid\"");
  require_rejected(R"({"op":"acquire","name":"a","gid":"0x1","access":"read"})", "exactly one of");
  require_rejected(R"({"op":"acquire","name":"a","access":"all"})", "\"access\" must be");
  require_rejected(R"({"op":"acquire","gid":"zz","access":"read"})", "must be a GID");
  require_rejected(R"({"op":"acquire","gid":"0","access":"read"})", "must be a GID");
  require_rejected(R"({"op":"acquire","gid":7,"access":"read"})", "\"gid\" must be a string");
  require_rejected(R"({"op":"relinquish"})", "missing field \"gid\"");
  require_rejected(R"({"op":"alloc","name":"a","size":1,"where":"local","mode":512})", "between 0 and 0777");
  require_rejected(R"({"op":"alloc","name":"a","size":1,"where":"local","mode":"0644"})", "non-negative integer");
  require_rejected(R"({"op":"mutex_create","name":"m","manual_reset":true})", "unexpected field");
  require_rejected(R"({"op":"event_create","name":"e","signaled":false})", "missing field \"manual_reset\"");
  require_rejected(R"({"op":"event_create","name":"e","manual_reset":1,"signaled":false})", "true or false");
  require_rejected(R"({"op":"mutex_lock"})", "missing field \"name\"");
  require_rejected(R"({"op":"whoami","name":"x"})", "unexpected field");
}

TEST_CASE("send requests survive encode then decode", "[proto]") {
  Request to_node = make(Op::kSend);
  to_node.recipients = Request::Recipients::kNode;
  to_node.nodes = 1ULL << 63;
  to_node.kind = 1024;
  to_node.data = std::string(gmm::layout::kMessagePayload, '\xff');
  Request to_group = make(Op::kSend);
  to_group.recipients = Request::Recipients::kGroup;
  to_group.nodes = 0b1011;
  to_group.kind = 0xFFFFFFFFu;
  to_group.data = std::string("a\0b", 3);
  Request to_all = make(Op::kSend);
  to_all.recipients = Request::Recipients::kAll;
  to_all.kind = 2000;
  Request watch_messages = make(Op::kWatch);
  watch_messages.events = gmm::proto::kMessageEventBit | gmm::proto::event_bit(gmm::layout::EventKind::kNodeFailed);
  for (const Request& request : {to_node, to_group, to_all, watch_messages}) {
    std::string line = encode_request(request);
    INFO(line);
    auto decoded = decode_request(line);
    REQUIRE(decoded.ok());
    CHECK(*decoded == request);
  }
  auto group = decode_request(R"({"op":"send","nodes":[2,0,2],"kind":1024,"data_b64":""})");
  REQUIRE(group.ok());
  CHECK(group->recipients == Request::Recipients::kGroup);
  CHECK(group->nodes == 0b101);
  CHECK(group->data.empty());
}

TEST_CASE("malformed send requests are rejected", "[proto]") {
  require_rejected(R"({"op":"send","kind":1024,"data_b64":""})", "exactly one of \"to\"");
  require_rejected(R"({"op":"send","to":1,"nodes":[1],"kind":1024,"data_b64":""})", "exactly one of");
  require_rejected(R"({"op":"send","to":"everyone","kind":1024,"data_b64":""})", "node number or \"all\"");
  require_rejected(R"({"op":"send","to":64,"kind":1024,"data_b64":""})", "below 64");
  require_rejected(R"({"op":"send","to":-1,"kind":1024,"data_b64":""})", "below 64");
  require_rejected(R"({"op":"send","nodes":[],"kind":1024,"data_b64":""})", "non-empty list");
  require_rejected(R"({"op":"send","nodes":1,"kind":1024,"data_b64":""})", "non-empty list");
  require_rejected(R"({"op":"send","nodes":[1,"2"],"kind":1024,"data_b64":""})", "each of \"nodes\"");
  require_rejected(R"({"op":"send","to":1,"data_b64":""})", "missing field \"kind\"");
  require_rejected(R"({"op":"send","to":1,"kind":1023,"data_b64":""})", "lower kinds are GMM's own");
  require_rejected(R"({"op":"send","to":1,"kind":4294967296,"data_b64":""})", "from 1024");
  require_rejected(R"({"op":"send","to":1,"kind":1024})", "missing field \"data_b64\"");
  require_rejected(R"({"op":"send","to":1,"kind":1024,"data_b64":"a"})", "not valid base64");
  const std::string oversized = gmm::proto::base64_encode(std::string(gmm::layout::kMessagePayload + 1, 'x'));
  require_rejected(R"({"op":"send","to":1,"kind":1024,"data_b64":")" + oversized + "\"}", "41 bytes, the limit is 40");
  require_rejected(R"({"op":"send","to":1,"kind":1024,"data_b64":"","name":"x"})", "unexpected field \"name\"");
}

TEST_CASE("message event lines survive encode then decode and malformed ones are refused", "[proto]") {
  gmm::proto::AppMessage message{63, 0xFFFFFFFFu, 0xFFFFFFFFFFFFFFFFull,
                                 std::string(gmm::layout::kMessagePayload, '\0')};
  std::string line = gmm::proto::encode_message_event(message);
  INFO(line);
  CHECK(line.size() <= gmm::proto::kMaxEventLine);
  auto decoded = gmm::proto::decode_watch_line(line);
  REQUIRE(decoded.ok());
  REQUIRE(std::holds_alternative<gmm::proto::AppMessage>(*decoded));
  CHECK(std::get<gmm::proto::AppMessage>(*decoded) == message);
  // Membership events come through the same decoder.
  auto failed = gmm::proto::decode_watch_line(R"({"event":"node-failed","node":2,"incarnation":1,"sequence":7})");
  REQUIRE(failed.ok());
  CHECK(std::get<gmm::Event>(*failed).node == 2);
  // ... and decode_event still refuses message lines.
  CHECK_FALSE(gmm::proto::decode_event(line).ok());

  auto refused = [](const std::string& bad, const std::string& why) {
    INFO(bad);
    auto result = gmm::proto::decode_watch_line(bad);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Errc::kIo);
    CHECK_THAT(result.error().message, Catch::Contains(why));
  };
  refused(R"({"event":"message","kind":1024,"data_b64":"","sent_ns":1})", "\"from\"");
  refused(R"({"event":"message","from":64,"kind":1024,"data_b64":"","sent_ns":1})", "\"from\"");
  refused(R"({"event":"message","from":1,"kind":1024,"data_b64":"","sent_ns":-1})", "\"sent_ns\"");
  refused(R"({"event":"message","from":1,"kind":1024,"data_b64":"!!!!","sent_ns":1})", "\"data_b64\"");
  refused(R"({"event":"message","from":1,"kind":1024,"sent_ns":1})", "\"data_b64\"");
  const std::string oversized = gmm::proto::base64_encode(std::string(gmm::layout::kMessagePayload + 1, 'x'));
  refused(R"({"event":"message","from":1,"kind":1024,"sent_ns":1,"data_b64":")" + oversized + "\"}", "too long");
}
