#include "cluster/cluster.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "proc/proc_cluster.hpp"
#include "proto/cli_text.hpp"
#include "qemu/qemu_cluster.hpp"

namespace gmm::host {

namespace fs = std::filesystem;
using nlohmann::json;

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::kProc: return "proc";
    case Mode::kVm: return "vm";
  }
  return "?";
}

std::optional<Mode> parse_mode(std::string_view name) {
  if (name == "proc") return Mode::kProc;
  if (name == "vm") return Mode::kVm;
  return std::nullopt;
}

json cluster_json(const Cluster& cluster) {
  json nodes = json::array();
  for (const NodeRecord& node : cluster.nodes) {
    json entry{{"id", node.id}, {"socket", node.socket}, {"log", node.log}, {"pid", node.pid}};
    if (!node.crash_at.empty()) entry["crash_at"] = node.crash_at;
    if (node.left) entry["left"] = true;
    if (cluster.mode == Mode::kVm) {
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
              {"nodes", nodes}};
  if (cluster.mode == Mode::kVm) {
    record["vm"] = json{{"server_pid", cluster.vm.server_pid},     {"server_log", cluster.vm.server_log},
                        {"accel", cluster.vm.accel},               {"image_dir", cluster.vm.image_dir},
                        {"share_dir", cluster.vm.share_dir},       {"ivshmem_server", cluster.vm.ivshmem_server}};
  } else if (cluster.vm.server_pid > 0) {  // process mode: only the doorbell server
    record["vm"] = json{{"server_pid", cluster.vm.server_pid},
                        {"server_log", cluster.vm.server_log},
                        {"ivshmem_server", cluster.vm.ivshmem_server}};
  }
  return record;
}

Cluster new_cluster(Mode mode, const std::string& dir, const UpOptions& options) {
  Cluster cluster;
  cluster.mode = mode;
  cluster.dir = dir;
  cluster.pool_path = options.pool_path.empty() ? default_pool_path(dir) : options.pool_path;
  cluster.pool_size = options.pool_size;
  cluster.membership = options.membership;
  cluster.binaries = options.binaries;
  cluster.started_unix = static_cast<std::int64_t>(std::time(nullptr));
  return cluster;
}

Result<Geometry> pool_geometry(std::uint64_t size, std::uint32_t nodes, const Membership& membership) {
  Geometry geometry;
  geometry.node_count = nodes;
  geometry.heartbeat_period_us = membership.heartbeat_ms * 1000;
  geometry.miss_threshold = membership.miss_threshold;
  geometry.leave_grace_ms = membership.leave_grace_ms;
  const std::uint64_t needed = min_pool_size(geometry);
  if (size < needed) {
    return make_error(Errc::kInvalidArgument, "pool size " + format_size(size) + " is too small for " +
                                                  std::to_string(nodes) + " nodes (need more than " +
                                                  format_size(needed) + ")");
  }
  return geometry;
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

Result<Cluster> up(const UpOptions& options) {
  switch (options.mode) {
    case Mode::kProc: return proc::up(options);
    case Mode::kVm: return vm::up(options);
  }
  return make_error(Errc::kInvalidArgument, "unsupported mode");
}

std::vector<NodeHealth> health(const Cluster& cluster) {
  std::vector<NodeHealth> nodes;
  for (std::uint32_t node = 0; node < cluster.nodes.size(); ++node) nodes.push_back(node_health(cluster, node));
  return nodes;
}

NodeHealth node_health(const Cluster& cluster, std::uint32_t node) {
  switch (cluster.mode) {
    case Mode::kProc: return proc::node_health(cluster, node);
    case Mode::kVm: return vm::node_health(cluster, node);
  }
  return NodeHealth{cluster.nodes.at(node), false, false, false, "unsupported mode"};
}

Status down(const Cluster& cluster) {
  switch (cluster.mode) {
    case Mode::kProc: return proc::down(cluster);
    case Mode::kVm: return vm::down(cluster);
  }
  return make_error(Errc::kInvalidArgument, "unsupported mode");
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

Status crash_node(const Cluster& cluster, std::uint32_t node, CrashHow how, std::uint64_t* event_ns) {
  switch (cluster.mode) {
    case Mode::kProc:
      if (how == CrashHow::kPanic) return make_error(Errc::kInvalidArgument, "--how panic needs a VM cluster");
      return proc::crash_node(cluster, node, how);
    case Mode::kVm: return vm::crash_node(cluster, node, how, event_ns);
  }
  return make_error(Errc::kInvalidArgument, "unsupported mode");
}

Status resume_node(const Cluster& cluster, std::uint32_t node) {
  switch (cluster.mode) {
    case Mode::kProc: return proc::resume_node(cluster, node);
    case Mode::kVm: return vm::resume_node(cluster, node);
  }
  return make_error(Errc::kInvalidArgument, "unsupported mode");
}

Status start_node(Cluster& cluster, std::uint32_t node, const std::string& crash_at) {
  switch (cluster.mode) {
    case Mode::kProc: return proc::start_node(cluster, node, crash_at);
    case Mode::kVm: return vm::start_node(cluster, node, crash_at);
  }
  return make_error(Errc::kInvalidArgument, "unsupported mode");
}

std::optional<std::string> node_exited(const Cluster& cluster, std::uint32_t node) {
  switch (cluster.mode) {
    case Mode::kProc: return proc::node_exited(cluster, node);
    case Mode::kVm: return vm::node_exited(cluster, node);
  }
  return std::nullopt;
}

std::string file_tail(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string tail;
  for (const std::string& line : last) tail += line + "\n";
  return tail;
}

Status remove_cluster_files(const Cluster& cluster, const std::vector<std::string>& node_files) {
  std::string failures;
  auto remove = [&](const std::string& path) {
    std::error_code error;
    std::filesystem::remove(path, error);
    if (error) failures += " " + path + " (" + error.message() + ")";
  };
  for (const std::string& path : node_files) remove(path);
  remove(cluster.pool_path);
  remove(cluster.faults_path());
  remove(cluster.state_path());
  if (!failures.empty()) return make_error(Errc::kIo, "could not remove" + failures);
  return ok_status();
}

}  // namespace gmm::host
