#include "gmmctl/print.hpp"

#include <vector>

#include "proto/cli_text.hpp"

namespace gmm::gmmctl {
namespace {

using nlohmann::json;

std::string node_list(const json& nodes) {
  std::string text;
  for (const json& node : nodes) text += (text.empty() ? "" : ",") + std::to_string(node.get<unsigned>());
  return text.empty() ? "-" : text;
}

std::string size_text(const json& bytes) { return format_size(bytes.get<std::uint64_t>()); }

}  // namespace

std::string section_table(const json& sections) {
  std::vector<TableRow> rows{{"NAME", "GID", "HOME", "SIZE", "SHARERS"}};
  for (const json& section : sections) {
    std::string name = section.at("name").get<std::string>();
    if (section.at("unlinked").get<bool>()) name = (name.empty() ? "-" : name) + " (unlinked)";
    rows.push_back({name.empty() ? "-" : name, section.at("gid").get<std::string>(),
                    std::to_string(section.at("home_node").get<unsigned>()), size_text(section.at("size")),
                    node_list(section.at("sharer_nodes"))});
  }
  return format_table(rows);
}

std::string partition_table(const json& partitions) {
  std::vector<TableRow> rows{{"NODE", "DATA", "FREE", "USED", "RESERVED", "LARGEST-FREE", "SECTIONS"}};
  for (const json& p : partitions) {
    rows.push_back({std::to_string(p.at("node").get<unsigned>()), size_text(p.at("data_bytes")),
                    size_text(p.at("free_bytes")), size_text(p.at("used_bytes")), size_text(p.at("reserved_bytes")),
                    size_text(p.at("largest_free")), std::to_string(p.at("sections").get<unsigned>())});
  }
  return format_table(rows);
}

std::string section_summary(const json& section) {
  return "gid " + section.at("gid").get<std::string>() + ", " + size_text(section.at("size")) + " on node " +
         std::to_string(section.at("home_node").get<unsigned>());
}

std::string event_text(const Event& event) {
  return std::string(event_name(event.kind)) + ": node " + std::to_string(event.node) + ", incarnation " +
         std::to_string(event.incarnation) + " (record " + std::to_string(event.sequence) + ")";
}

std::string printable(std::string_view bytes) {
  std::string text(bytes);
  for (char& c : text) {
    if (c < 0x20 || c > 0x7e) c = '.';
  }
  return text;
}

}  // namespace gmm::gmmctl
