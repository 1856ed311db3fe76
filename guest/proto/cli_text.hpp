// Text for people at a command line, shared by gmmctl and gmm-host: byte
// sizes as typed ("4096", "4K", "256M", "2G"; binary: 1K = 1024) and tables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gmm {

// Digits with an optional K/M/G/T suffix (either case). nullopt on anything
// else or on overflow.
std::optional<std::uint64_t> parse_size(std::string_view text);

// Shortest exact form with a suffix ("4K", "256M"), else one decimal ("1.5M").
std::string format_size(std::uint64_t bytes);

// Left-aligned columns two spaces apart, one line per row, no trailing blanks.
using TableRow = std::vector<std::string>;
std::string format_table(const std::vector<TableRow>& rows);

}  // namespace gmm
