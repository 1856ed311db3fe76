#include "proto/cli_text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <limits>

namespace gmm {

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  std::string_view suffix(end, static_cast<std::size_t>(text.data() + text.size() - end));
  if (suffix.empty()) return value;
  if (suffix.size() != 1) return std::nullopt;
  int shift = 0;
  switch (suffix[0]) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: return std::nullopt;
  }
  if (value > (std::numeric_limits<std::uint64_t>::max() >> shift)) return std::nullopt;
  return value << shift;
}

std::string format_size(std::uint64_t bytes) {
  constexpr std::array<char, 4> kSuffixes{'K', 'M', 'G', 'T'};
  int unit = -1;
  double scaled = static_cast<double>(bytes);
  while (unit + 1 < static_cast<int>(kSuffixes.size()) && scaled >= 1024.0) {
    scaled /= 1024.0;
    ++unit;
  }
  if (unit < 0) return std::to_string(bytes);
  char text[32];
  std::uint64_t unit_bytes = std::uint64_t{1} << (10 * (unit + 1));
  if (bytes % unit_bytes == 0) {
    std::snprintf(text, sizeof text, "%llu%c", static_cast<unsigned long long>(bytes / unit_bytes), kSuffixes[unit]);
  } else {
    std::snprintf(text, sizeof text, "%.1f%c", scaled, kSuffixes[unit]);
  }
  return text;
}

std::string format_table(const std::vector<TableRow>& rows) {
  std::vector<std::size_t> widths;
  for (const TableRow& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const TableRow& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += '\n';
  }
  return out;
}

}  // namespace gmm
