// How gmmctl shows replies to a person: tables for ls/stat, text for read.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gmm/membership.hpp"

namespace gmm::gmmctl {

// `sections`/`partitions`: the arrays of the ls/stat replies (see proto.hpp).
std::string section_table(const nlohmann::json& sections);
std::string partition_table(const nlohmann::json& partitions);
std::string section_summary(const nlohmann::json& section);  // "gid 0x..., 4K on node 2"
// "node-failed: node 2, incarnation 1 (record 7)"
std::string event_text(const Event& event);
// Bytes as text: printable ASCII as is, anything else as '.'.
std::string printable(std::string_view bytes);

}  // namespace gmm::gmmctl
