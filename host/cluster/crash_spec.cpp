#include "cluster/crash_spec.hpp"

#include <charconv>

#include "gmm/crash.hpp"

namespace gmm::host {

Status check_crash_spec(std::string_view spec) {
  auto parsed = parse_crash_spec(spec);
  if (!parsed) return parsed.error();
  return ok_status();
}

Result<std::pair<std::uint32_t, std::string>> parse_node_crash_spec(std::string_view text) {
  auto equals = text.find('=');
  std::uint32_t node = 0;
  auto digits = text.substr(0, equals);
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), node);
  if (equals == std::string_view::npos || error != std::errc() || end != digits.data() + digits.size()) {
    return make_error(Errc::kInvalidArgument, "--crash-at takes NODE=POINT[:N][:ACTION], not \"" + std::string(text) + "\"");
  }
  std::string spec(text.substr(equals + 1));
  if (Status valid = check_crash_spec(spec); !valid) return valid.error();
  return std::make_pair(node, spec);
}

}  // namespace gmm::host
