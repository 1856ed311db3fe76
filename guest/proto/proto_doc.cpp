// gmm-proto-doc: docs/cli.md's "Wire protocol" section, made from the op
// table (op_table.cpp), the encoder and the protocol's constants, so the
// docs cannot drift from the code.
//
//   gmm-proto-doc               print the section
//   gmm-proto-doc --check FILE  exit 1 if FILE's section (between the two
//                               marker lines) is not exactly that (a ctest)
//   gmm-proto-doc --write FILE  replace FILE's section with it
//                               (`cmake --build build --target proto-doc`)
#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "proto/op_table.hpp"
#include "proto/proto.hpp"

namespace {

using gmm::proto::FieldSpec;
using gmm::proto::OpSpec;
using gmm::proto::Presence;
using gmm::proto::RequestField;
using nlohmann::json;

constexpr std::string_view kBegin =
    "<!-- gmm-proto-doc begin: generated from guest/proto/op_table.cpp; edit the table, then "
    "`cmake --build build --target proto-doc` -->\n";
constexpr std::string_view kEnd = "<!-- gmm-proto-doc end -->\n";

std::string code(std::string_view text) { return "`" + std::string(text) + "`"; }

// A table cell: markdown must not see a column break in it.
std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string request_cell(const OpSpec& spec) {
  std::vector<std::string> parts;
  std::string one_of;
  for (const RequestField& field : spec.request) {
    const std::string key = code(field.field->key);
    switch (field.presence) {
      case Presence::kRequired: parts.push_back(key); break;
      case Presence::kOptional: parts.push_back(key + " (optional)"); break;
      case Presence::kConditional: parts.push_back(key + " (with " + code(field.when) + ")"); break;
      case Presence::kOneOf:
        if (one_of.empty()) {
          parts.emplace_back();  // filled in below, where the group's first field stands
          one_of = key;
        } else {
          one_of += " or " + key;
        }
        break;
    }
  }
  std::string text;
  for (std::string& part : parts) {
    if (part.empty()) part = one_of;
    text += (text.empty() ? "" : ", ") + part;
  }
  return text;
}

std::string reply_cell(const OpSpec& spec) {
  if (spec.reply.empty()) return "{}";
  std::string text;
  for (const gmm::proto::ReplyField& field : spec.reply) {
    text += (text.empty() ? "" : ", ") + code(field.key) + (field.shape.empty() ? "" : " " + std::string(field.shape));
  }
  return text;
}

// Prose wrapped like the rest of docs/cli.md.
std::string wrapped(const std::string& text) {
  constexpr std::size_t kWidth = 76;
  std::string out;
  std::string line;
  std::istringstream words(text);
  for (std::string word; words >> word;) {
    if (!line.empty() && line.size() + 1 + word.size() > kWidth) {
      out += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line + "\n";
}

std::string keys_of(const json& object) {
  std::string text;
  for (const auto& item : object.items()) text += (text.empty() ? "" : ", ") + code(item.key());
  return text;
}

std::string binary_size(std::uint64_t bytes) {
  if (bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MiB";
  if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " bytes";
}

std::string exchange_example() {
  using namespace gmm::proto;
  Request write;
  write.op = Op::kWrite;
  write.name = "orders";
  write.data = "hello";
  Request alloc;
  alloc.op = Op::kAlloc;
  alloc.name = "orders";
  alloc.size = 4096;
  std::string text = "```\n";
  text += "client -> gmmd   " + encode_request(write) + "\n";
  text += "gmmd -> client   " + encode_reply(json{{"written", write.data.size()}}) + "\n";
  text += "client -> gmmd   " + encode_request(alloc) + "\n";
  text += "gmmd -> client   " + encode_error(gmm::make_error(gmm::Errc::kExists, "name 'orders' already exists")) + "\n";
  return text + "```\n";
}

std::string ops_table() {
  std::string text = "| op | request fields | reply | rights | does |\n|---|---|---|---|---|\n";
  for (const OpSpec& spec : gmm::proto::op_table()) {
    text += "| " + code(spec.name) + " | " + cell(request_cell(spec)) + " | " + cell(reply_cell(spec)) + " | " +
            cell(spec.rights) + " | " + cell(spec.description) + " |\n";
  }
  return text;
}

// One row per field (two ops' fields may share a key and differ, as
// data_b64 does), in the order the op table first uses them.
std::string fields_table() {
  std::string text = "| field | type | meaning | in |\n|---|---|---|---|\n";
  std::vector<const FieldSpec*> listed;
  for (const OpSpec& spec : gmm::proto::op_table()) {
    for (const RequestField& field : spec.request) {
      if (std::find(listed.begin(), listed.end(), field.field) != listed.end()) continue;
      listed.push_back(field.field);
      std::string ops;
      for (const OpSpec& user : gmm::proto::op_table()) {
        for (const RequestField& used : user.request) {
          if (used.field == field.field) ops += (ops.empty() ? "" : ", ") + std::string(user.name);
        }
      }
      text += "| " + code(field.field->key) + " | " + cell(field.field->type) + " | " + cell(field.field->meaning) +
              " | " + ops + " |\n";
    }
  }
  return text;
}

std::string objects_and_errors() {
  std::string names;
  for (int number = 0; number <= static_cast<int>(gmm::Errc::kIo); ++number) {
    names += (names.empty() ? "" : ", ") + code(gmm::errc_name(static_cast<gmm::Errc>(number)));
  }
  return wrapped("Section: " + keys_of(gmm::proto::section_json(gmm::SectionInfo{})) +
                 ". Partition: " + keys_of(gmm::proto::partition_json(gmm::PartitionStat{})) +
                 ". Error names (`error`): " + names + ".");
}

std::string limits() {
  using namespace gmm::proto;
  return wrapped("Limits: a request line is at most " + binary_size(kMaxRequestLine) +
                 " (so a write carries at most about " + binary_size(kMaxRequestLine / 4 * 3) +
                 "), read and write lengths at most " + binary_size(kMaxIoLength) + ", JSON nesting at most " +
                 std::to_string(kMaxJsonDepth) + " deep, a reply line at most " + binary_size(kMaxReplyLine) +
                 ", an event line at most " + binary_size(kMaxEventLine) +
                 ". The message of a refused request is one printable line of at most " +
                 std::to_string(kMaxErrorMessage) +
                 " bytes; client text in it is JSON-quoted with everything but printable ASCII escaped, and cut "
                 "after " + std::to_string(kMaxQuotedClientText) + " bytes.");
}

std::string section_text() {
  return wrapped("JSON lines over the unix stream socket: one request object per line from the client, one "
                 "reply object per line from gmmd, `\"ok\": true` with the reply's fields or `\"ok\": false` "
                 "with `error` and `message`. For example:") +
         "\n" + exchange_example() + "\n" + ops_table() + "\n" +
         wrapped("Request fields (any other is refused, so typos fail loudly):") + "\n" + fields_table() + "\n" +
         objects_and_errors() + "\n" + limits();
}

struct Document {
  std::string before, section, after;
};

bool split(const std::string& text, Document& document) {
  std::size_t begin = text.find(kBegin);
  std::size_t end = text.find(kEnd);
  if (begin == std::string::npos || end == std::string::npos || end < begin) return false;
  document.before = text.substr(0, begin + kBegin.size());
  document.section = text.substr(begin + kBegin.size(), end - begin - kBegin.size());
  document.after = text.substr(end);
  return true;
}

// The first line where `found` differs from `wanted`, for the one who has
// to see why the test failed.
void explain_difference(const std::string& found, const std::string& wanted) {
  std::istringstream have(found);
  std::istringstream want(wanted);
  for (int number = 1;; ++number) {
    std::string a;
    std::string b;
    const bool more_found = static_cast<bool>(std::getline(have, a));
    const bool more_wanted = static_cast<bool>(std::getline(want, b));
    if (!more_found && !more_wanted) return;
    if (more_found && more_wanted && a == b) continue;
    std::cerr << "first difference, line " << number << " of the section:\n  docs:  "
              << (more_found ? a : "(nothing)") << "\n  table: " << (more_wanted ? b : "(nothing)") << "\n";
    return;
  }
}

int usage() {
  std::cerr << "usage: gmm-proto-doc [--check FILE | --write FILE]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string wanted = section_text();
  if (argc == 1) {
    std::cout << wanted;
    return 0;
  }
  if (argc != 3) return usage();
  const std::string mode = argv[1];
  const std::string path = argv[2];
  if (mode != "--check" && mode != "--write") return usage();

  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  Document document;
  if (!in || !split(text.str(), document)) {
    std::cerr << "gmm-proto-doc: " << path << ": cannot read it, or it lacks the marker lines\n  " << kBegin << "  "
              << kEnd;
    return 1;
  }
  if (mode == "--check") {
    if (document.section == wanted) return 0;
    std::cerr << "gmm-proto-doc: " << path << ": the wire protocol section is not what the op table "
              << "(guest/proto/op_table.cpp) says; run `cmake --build build --target proto-doc` and review the diff\n";
    explain_difference(document.section, wanted);
    return 1;
  }
  if (document.section == wanted) return 0;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << document.before << wanted << document.after;
  if (!out) {
    std::cerr << "gmm-proto-doc: cannot write " << path << "\n";
    return 1;
  }
  std::cout << "gmm-proto-doc: rewrote the wire protocol section of " << path << "\n";
  return 0;
}
