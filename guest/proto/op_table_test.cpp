#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "proto/op_table.hpp"
#include "proto/proto.hpp"

using gmm::proto::decode_request;
using gmm::proto::OpSpec;
using gmm::proto::Presence;

TEST_CASE("the op table has one row per op, named once", "[proto]") {
  REQUIRE(gmm::proto::op_table().size() == gmm::proto::kOpCount);
  std::set<std::string_view> names;
  for (const OpSpec& spec : gmm::proto::op_table()) {
    INFO(spec.name);
    CHECK(names.insert(spec.name).second);
    CHECK(gmm::proto::op_name(spec.op) == spec.name);
    CHECK(gmm::proto::find_op(spec.name) == &spec);
    CHECK_FALSE(spec.description.empty());
    CHECK_FALSE(spec.rights.empty());
    std::set<std::string_view> keys;
    int one_of = 0;
    for (const gmm::proto::RequestField& field : spec.request) {
      CHECK(keys.insert(field.field->key).second);
      CHECK_FALSE(field.field->type.empty());
      CHECK(field.when.empty() == (field.presence != Presence::kConditional));
      one_of += field.presence == Presence::kOneOf ? 1 : 0;
    }
    CHECK(one_of != 1);  // a group of one would be a required field
  }
  CHECK(gmm::proto::find_op("PING") == nullptr);
}

// Whatever an op's fields, the decoder refuses a key its row does not list
// and names the first required one that is missing.
TEST_CASE("the decoder follows each op's row", "[proto]") {
  for (const OpSpec& spec : gmm::proto::op_table()) {
    const std::string op = "{\"op\":\"" + std::string(spec.name) + "\"";
    INFO(op);
    auto extra = decode_request(op + ",\"no_such_field\":1}");
    REQUIRE_FALSE(extra.ok());
    CHECK(extra.error().message == "unexpected field \"no_such_field\"");
    auto bare = decode_request(op + "}");
    const bool needs_nothing = std::none_of(spec.request.begin(), spec.request.end(), [](const auto& field) {
      return field.presence == Presence::kRequired || field.presence == Presence::kOneOf;
    });
    REQUIRE(bare.ok() == needs_nothing);
    if (!spec.request.empty() && spec.request.front().presence == Presence::kRequired) {
      CHECK(bare.error().message == "missing field \"" + std::string(spec.request.front().field->key) + "\"");
    }
  }
}

// The fuzzer's dictionary (fuzz/request.dict) holds the protocol's words, so
// that a new op or field is fuzzed the day it is added.
TEST_CASE("the fuzz dictionary names every op and field", "[proto]") {
  std::ifstream in(GMM_PROTO_SOURCE_DIR "/fuzz/request.dict");
  REQUIRE(in);
  std::stringstream dict;
  dict << in.rdbuf();
  auto listed = [&](std::string_view word) {
    return dict.str().find("\n\"\\\"" + std::string(word) + "\\\"\"\n") != std::string::npos;
  };
  for (const OpSpec& spec : gmm::proto::op_table()) {
    CHECK(listed(spec.name));
    for (const gmm::proto::RequestField& field : spec.request) {
      INFO(spec.name << " " << field.field->key);
      CHECK(listed(field.field->key));
    }
  }
}
