#include "cluster/faults.hpp"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace gmm::host {
namespace {

using nlohmann::json;

json injection_json(const Injection& injection) {
  return json{{"node", injection.node},
              {"how", crash_how_name(injection.how)},
              {"injected_ns", injection.injected_ns},
              {"incarnation", injection.incarnation},
              {"pid", injection.pid}};
}

// nullopt for an unknown "how"; json exceptions for anything else wrong.
std::optional<Injection> injection_from_json(const json& entry) {
  auto how = parse_crash_how(entry.at("how").get<std::string>());
  if (!how) return std::nullopt;
  return Injection{entry.at("node").get<std::uint32_t>(), *how, entry.at("injected_ns").get<std::uint64_t>(),
                   entry.at("incarnation").get<std::uint32_t>(), entry.at("pid").get<std::int64_t>()};
}

}  // namespace

Result<std::vector<Injection>> load_injections(const Cluster& cluster) {
  std::string path = cluster.faults_path();
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) return std::vector<Injection>{};
    return make_error(Errc::kIo, "cannot read " + path);
  }
  json record = json::parse(in, nullptr, /*allow_exceptions=*/false);
  try {
    std::vector<Injection> injections;
    for (const json& entry : record.at("injections")) {
      auto injection = injection_from_json(entry);
      if (!injection) return make_error(Errc::kInvalidArgument, path + " is corrupt: unknown \"how\" " + entry.dump());
      injections.push_back(*injection);
    }
    return injections;
  } catch (const json::exception& e) {
    return make_error(Errc::kInvalidArgument, path + " is corrupt: " + e.what());
  }
}

Status record_injection(const Cluster& cluster, const Injection& injection) {
  auto injections = load_injections(cluster);
  if (!injections) return injections.error();
  injections->push_back(injection);
  if (injections->size() > kInjectionsKept) {
    injections->erase(injections->begin(), injections->end() - static_cast<long>(kInjectionsKept));
  }
  json list = json::array();
  for (const Injection& entry : *injections) list.push_back(injection_json(entry));
  std::string path = cluster.faults_path();
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << json{{"injections", list}}.dump(2) << "\n";
    if (!out) return make_error(Errc::kIo, "cannot write " + temp);
  }
  std::error_code error;
  std::filesystem::rename(temp, path, error);
  if (error) return make_error(Errc::kIo, "cannot rename " + temp + ": " + error.message());
  return ok_status();
}

std::optional<Injection> injection_for(const std::vector<Injection>& injections,
                                       const layout::RecoveryRecord& record) {
  const std::uint64_t declared_ns = record.host_seen_ns != 0 ? record.host_seen_ns : record.declared_ns;
  for (auto it = injections.rbegin(); it != injections.rend(); ++it) {
    if (it->node == record.node && it->incarnation == record.incarnation && it->injected_ns <= declared_ns) {
      return *it;
    }
  }
  return std::nullopt;
}

}  // namespace gmm::host
