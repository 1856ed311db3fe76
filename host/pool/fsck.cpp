#include "pool/fsck.hpp"

#include "pool/pool_view.hpp"
#include "proto/cli_text.hpp"

namespace gmm {
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CheckReport, violations, sections, names, free_bytes, used_bytes, reserved_bytes)
}  // namespace gmm

namespace gmm::host {

Result<CheckReport> check_pool_file(const std::string& path) {
  auto mapped = map_pool(path);
  if (!mapped) return mapped.error();
  return check_pool(mapped->pool);
}

nlohmann::json check_report_json(const std::string& pool_path, const CheckReport& report) {
  nlohmann::json j = report;
  j["pool"] = pool_path;
  j["clean"] = report.clean();
  return j;
}

std::string check_report_text(const std::string& pool_path, const CheckReport& report) {
  std::string text = "fsck " + pool_path + ": " + std::to_string(report.sections) + " sections, " +
                     std::to_string(report.names) + " names, used " + format_size(report.used_bytes) + ", free " +
                     format_size(report.free_bytes) + ", reserved " + format_size(report.reserved_bytes) + ": ";
  text += report.clean() ? "clean\n" : std::to_string(report.violations.size()) + " violations\n";
  for (const std::string& violation : report.violations) text += "  " + violation + "\n";
  return text;
}

}  // namespace gmm::host
