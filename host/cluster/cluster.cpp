#include "cluster/cluster.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <utility>

namespace gmm::host {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The record's and the command line's name of each mode, both ways.
constexpr std::pair<Mode, std::string_view> kModeNames[] = {{Mode::kProc, "proc"}, {Mode::kVm, "vm"}};
constexpr std::pair<Detector, std::string_view> kDetectorNames[] = {
    {Detector::kHeartbeat, "heartbeat"}, {Detector::kHost, "host"}, {Detector::kBoth, "both"}};

template <typename Enum, std::size_t N>
std::string_view name_in(const std::pair<Enum, std::string_view> (&names)[N], Enum value) {
  for (const auto& [known, name] : names) {
    if (known == value) return name;
  }
  return "?";
}

template <typename Enum, std::size_t N>
std::optional<Enum> value_in(const std::pair<Enum, std::string_view> (&names)[N], std::string_view name) {
  for (const auto& [value, known] : names) {
    if (known == name) return value;
  }
  return std::nullopt;
}

}  // namespace

std::string_view mode_name(Mode mode) { return name_in(kModeNames, mode); }
std::optional<Mode> parse_mode(std::string_view name) { return value_in(kModeNames, name); }
std::string_view detector_name(Detector detector) { return name_in(kDetectorNames, detector); }
std::optional<Detector> parse_detector(std::string_view name) { return value_in(kDetectorNames, name); }

json cluster_json(const Cluster& cluster) {
  json nodes = json::array();
  for (const NodeRecord& node : cluster.nodes) {
    json entry{{"id", node.id}, {"socket", node.socket}, {"log", node.log}, {"pid", node.pid}};
    if (!node.crash_at.empty()) entry["crash_at"] = node.crash_at;
    if (node.left) entry["left"] = true;
    if (!node.qmp.empty()) {  // a VM
      entry["qmp"] = node.qmp;
      entry["ctl"] = node.ctl;
      entry["qemu_log"] = node.qemu_log;
    }
    nodes.push_back(std::move(entry));
  }
  json record{{"mode", mode_name(cluster.mode)},
              {"dir", cluster.dir},
              {"pool", {{"path", cluster.pool_path}, {"size", cluster.pool_size}}},
              {"membership",
               {{"heartbeat_ms", cluster.membership.heartbeat_ms},
                {"miss_threshold", cluster.membership.miss_threshold},
                {"leave_grace_ms", cluster.membership.leave_grace_ms}}},
              {"binaries", {{"gmmd", cluster.binaries.gmmd}, {"gmmctl", cluster.binaries.gmmctl}}},
              {"started_unix", cluster.started_unix},
              {"detector", detector_name(cluster.detector)},
              {"nodes", nodes}};
  if (cluster.watcher.pid != 0) record["watcher"] = {{"pid", cluster.watcher.pid}, {"log", cluster.watcher.log}};
  // The doorbell server (every mode since it exists), and how VMs were started.
  const bool vms = !cluster.vm.accel.empty();
  if (cluster.vm.server_pid > 0 || vms) {
    json& vm = record["vm"] = json{{"server_pid", cluster.vm.server_pid},
                                   {"server_log", cluster.vm.server_log},
                                   {"ivshmem_server", cluster.vm.ivshmem_server}};
    if (vms) {
      vm["accel"] = cluster.vm.accel;
      vm["image_dir"] = cluster.vm.image_dir;
      vm["share_dir"] = cluster.vm.share_dir;
    }
  }
  return record;
}

Result<Cluster> cluster_from_json(const json& record) {
  try {
    Cluster cluster;
    auto mode = parse_mode(record.at("mode").get<std::string>());
    if (!mode) return make_error(Errc::kInvalidArgument, "unknown mode " + record.at("mode").dump());
    cluster.mode = *mode;
    cluster.dir = record.at("dir").get<std::string>();
    cluster.pool_path = record.at("pool").at("path").get<std::string>();
    cluster.pool_size = record.at("pool").at("size").get<std::uint64_t>();
    cluster.membership.heartbeat_ms = record.at("membership").at("heartbeat_ms").get<std::uint32_t>();
    cluster.membership.miss_threshold = record.at("membership").at("miss_threshold").get<std::uint32_t>();
    cluster.membership.leave_grace_ms =
        record.at("membership").value("leave_grace_ms", Membership{}.leave_grace_ms);
    cluster.binaries.gmmd = record.at("binaries").at("gmmd").get<std::string>();
    cluster.binaries.gmmctl = record.at("binaries").at("gmmctl").get<std::string>();
    cluster.started_unix = record.at("started_unix").get<std::int64_t>();
    auto detector = parse_detector(record.value("detector", std::string("heartbeat")));
    if (!detector) return make_error(Errc::kInvalidArgument, "unknown detector " + record.at("detector").dump());
    cluster.detector = *detector;
    if (record.contains("watcher")) {
      cluster.watcher.pid = record.at("watcher").at("pid").get<std::int64_t>();
      cluster.watcher.log = record.at("watcher").value("log", std::string());
    }
    for (const json& node : record.at("nodes")) {
      cluster.nodes.push_back(NodeRecord{node.at("id").get<std::uint32_t>(), node.at("socket").get<std::string>(),
                                         node.at("log").get<std::string>(), node.at("pid").get<std::int64_t>(),
                                         node.value("crash_at", std::string()), node.value("left", false),
                                         node.value("qmp", std::string()), node.value("ctl", std::string()),
                                         node.value("qemu_log", std::string())});
    }
    if (record.contains("vm")) {
      const json& vm = record.at("vm");
      cluster.vm.server_pid = vm.at("server_pid").get<std::int64_t>();
      cluster.vm.server_log = vm.value("server_log", std::string());
      cluster.vm.accel = vm.value("accel", std::string());
      cluster.vm.image_dir = vm.value("image_dir", std::string());
      cluster.vm.share_dir = vm.value("share_dir", std::string());
      cluster.vm.ivshmem_server = vm.value("ivshmem_server", std::string());
    }
    return cluster;
  } catch (const json::exception& e) {
    return make_error(Errc::kInvalidArgument, std::string("bad cluster record: ") + e.what());
  }
}

Result<std::optional<Cluster>> load_cluster(const std::string& dir) {
  std::string path = dir + "/cluster.json";
  std::ifstream in(path);
  if (!in) {
    if (!fs::exists(path)) return std::optional<Cluster>{};
    return make_error(Errc::kIo, "cannot read " + path);
  }
  json record = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (record.is_discarded()) return make_error(Errc::kInvalidArgument, path + " is not valid JSON");
  auto cluster = cluster_from_json(record);
  if (!cluster) return make_error(cluster.error().code, path + ": " + cluster.error().message);
  return std::optional<Cluster>(std::move(*cluster));
}

Status save_cluster(const Cluster& cluster) {
  std::string path = cluster.state_path();
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << cluster_json(cluster).dump(2) << "\n";
    if (!out) return make_error(Errc::kIo, "cannot write " + temp);
  }
  std::error_code error;
  fs::rename(temp, path, error);
  if (error) return make_error(Errc::kIo, "cannot rename " + temp + ": " + error.message());
  return ok_status();
}

std::string default_cluster_dir() {
  if (const char* dir = std::getenv("GMM_CLUSTER_DIR"); dir && *dir) return dir;
  std::string user = std::to_string(::getuid());
  if (const passwd* entry = ::getpwuid(::getuid())) user = entry->pw_name;
  return "/tmp/gmm-cluster-" + user;
}

std::string default_pool_path(const std::string& dir) {
  // Readable (the directory's name) and unique (a hash of its full path).
  fs::path path = fs::absolute(dir).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();  // "dir/" names dir
  std::string absolute = path.string();
  std::string base = path.filename().string();
  for (char& c : base) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  }
  std::ostringstream name;
  name << "/dev/shm/gmm-pool-" << base.substr(0, 64) << "-" << std::hex
       << (std::hash<std::string>{}(absolute) & 0xFFFFFFFFu);
  return name.str();
}

Binaries sibling_binaries() {
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error);
  fs::path dir = error ? fs::path(".") : self.parent_path();
  return Binaries{(dir / "gmmd").string(), (dir / "gmmctl").string()};
}

std::string_view crash_how_name(CrashHow how) {
  switch (how) {
    case CrashHow::kKill: return "kill";
    case CrashHow::kPause: return "pause";
    case CrashHow::kPanic: return "panic";
  }
  return "?";
}

std::optional<CrashHow> parse_crash_how(std::string_view name) {
  if (name == "kill") return CrashHow::kKill;
  if (name == "pause") return CrashHow::kPause;
  if (name == "panic") return CrashHow::kPanic;
  return std::nullopt;
}

}  // namespace gmm::host
