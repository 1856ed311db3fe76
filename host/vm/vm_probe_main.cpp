// gmm-vm-probe: the end-to-end proof of the VM building blocks (driven by
// two-vm-probe.sh). With the ivshmem server in a thread of this process it
// boots N guests from qemu_argv(), then checks, through each guest's control
// channel (GuestShell) and QMP:
//   1. IVPosition == node id (uio-poke, sysfs, gmm-uio-probe = gmmd's UioPool)
//   2. doorbells guest -> guest, host -> guest, guest -> host
//   3. the host's view of the pool file == the guests' view of BAR2
//   4. cross-VM atomics (check_cross_vm_atomics with uio-poke, then with
//      gmm-uio-probe)
//   5. a guest panic is a QMP GUEST_PANICKED and the VM pauses; a guest
//      poweroff is a QMP SHUTDOWN and QEMU exits 0
// and reports boot-to-ready times. Prints "PASS" and exits 0, or "FAIL: why".
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "accel.hpp"
#include "atomic_check.hpp"
#include "guest_shell.hpp"
#include "ivshmem_server.hpp"
#include "process.hpp"
#include "qemu_command.hpp"
#include "qmp.hpp"
#include "testing/must.hpp"

namespace {

namespace fs = std::filesystem;
using namespace gmm::host::vm;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using gmm::test::expect;
using gmm::test::Failure;
using gmm::test::must;

constexpr std::uint16_t kHostPeer = 64;  // gmm::layout::kMaxNodes: outside the node ids
// gmm-uio-probe, copied from the 9p share into the guest's tmpfs first: 9p
// (cache=none) rereads a 4 MB binary at every exec, which under TCG delays
// its start by up to a second, enough for the atomic adds not to overlap.
constexpr const char* kProbe = "/tmp/gmm-uio-probe";

// /init's "userspace ready at uptime X s" from the console log.
std::string init_line(const std::string& console_log) {
  std::ifstream in(console_log);
  std::string line;
  while (std::getline(in, line))
    if (auto at = line.find("userspace ready at uptime"); at != std::string::npos) return line.substr(at);
  return "?";
}

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Node {
  std::uint32_t id = 0;
  NodeFiles files;
  pid_t pid = -1;
  std::optional<QmpClient> qmp;
  std::optional<GuestShell> shell;
  double qmp_s = 0, ready_s = 0;
};

struct Config {
  std::string share, image, dir, accel = "auto", pool_path;
  std::uint32_t nodes = 2, smp = 2, memory_mb = 256;
  std::uint64_t count = 50'000'000;  // about a second per guest under TCG
  std::uint64_t pool_size = 64ull << 20;
  int boot_timeout_s = 240;
  bool keep = false;
  bool unsafe_one_vcpu = false;
};

class Check {
 public:
  explicit Check(Config config) : c_(std::move(config)) {}
  ~Check() { cleanup(); }
  void run();

 private:
  gmm::Result<std::string> in_guest(std::uint32_t node, const std::string& command, std::chrono::milliseconds timeout = 60s);
  std::string must_run(std::uint32_t node, const std::string& command, std::chrono::milliseconds timeout = 60s) {
    return must(in_guest(node, command, timeout), "node " + std::to_string(node) + ": " + command);
  }
  void start_server();
  void boot();
  void check_positions();
  void check_doorbells();
  void check_shared_view();
  void check_atomics();
  void check_panic_and_shutdown();
  void cleanup();

  Config c_;
  std::unique_ptr<IvshmemServer> server_;
  std::thread server_loop_;
  std::vector<Node> nodes_;
  Clock::time_point boot_start_;
};

gmm::Result<std::string> Check::in_guest(std::uint32_t node, const std::string& command, std::chrono::milliseconds timeout) {
  auto out = nodes_.at(node).shell->run(command, timeout);
  if (!out) return out.error();
  if (out->status != 0)
    return gmm::make_error(gmm::Errc::kIo, "exit status " + std::to_string(out->status) + ": " + out->text);
  return out->text;
}

void Check::start_server() {
  IvshmemServer::Options options;
  options.shm_path = c_.pool_path;
  options.vectors = 2;
  options.host_peer = kHostPeer;
  for (std::uint32_t k = 0; k < c_.nodes; ++k) options.listeners.push_back({node_files(c_.dir, k).ivshmem, k});
  options.log = [](std::string_view line) { std::printf("  server: %.*s\n", static_cast<int>(line.size()), line.data()); };
  server_ = must(IvshmemServer::create(options), "ivshmem server");
  server_loop_ = std::thread([this] { (void)server_->run(); });
}

void Check::boot() {
  auto accel = must(choose_accel(*parse_accel_request(c_.accel), probe_accel_facts()), "accelerator");
  std::printf("accelerator: %s (%s)\n", std::string(accel_name(accel.accel)).c_str(), accel.reason.c_str());
  VmSettings settings;
  settings.accel = accel.accel;
  settings.smp = c_.smp;
  settings.unsafe_one_vcpu = c_.unsafe_one_vcpu;
  settings.memory_mb = c_.memory_mb;
  settings.kernel = c_.image + "/vmlinux";
  settings.initrd = c_.image + "/initramfs.cpio.gz";
  settings.share_dir = c_.share;
  settings.dir = c_.dir;
  settings.options = {{"nodes", std::to_string(c_.nodes)}};
  boot_start_ = Clock::now();
  for (std::uint32_t k = 0; k < c_.nodes; ++k) {
    Node node;
    node.id = k;
    node.files = node_files(c_.dir, k);
    auto argv = must(qemu_argv(settings, k), "qemu command");
    if (k == 0) std::printf("node 0: %s\n", shell_line(argv).c_str());
    node.pid = must(spawn_process(argv, {.output = node.files.qemu_log, .die_with_parent = true}),
                    "start QEMU for node " + std::to_string(k));
    nodes_.push_back(std::move(node));
  }
  for (auto& n : nodes_) {
    n.qmp.emplace(must(QmpClient::connect(n.files.qmp, 30s), "node " + std::to_string(n.id)));
    n.qmp_s = since(boot_start_);
    expect(must(n.qmp->status(), "query-status") == "running", "node " + std::to_string(n.id) + " is not running");
  }
  // Guests boot in parallel: wait for each shell in its own thread.
  std::vector<std::optional<std::string>> errors(nodes_.size());
  {
    std::vector<std::jthread> waiters;
    for (auto& n : nodes_)
      waiters.emplace_back([&, this] {
        auto shell = GuestShell::connect(n.files.ctl, 30s);
        if (shell) {
          auto ready = shell->wait_ready(std::chrono::seconds(c_.boot_timeout_s));
          if (!ready) shell = ready.error();
        }
        if (!shell) errors[n.id] = shell.error().message;
        else n.shell.emplace(std::move(*shell));
        n.ready_s = since(boot_start_);
      });
  }
  for (const auto& n : nodes_)
    expect(!errors[n.id], "node " + std::to_string(n.id) + " did not become ready: " + errors[n.id].value_or("") +
                              " (console: " + n.files.console_log + ")");
  double all = 0;
  for (const auto& n : nodes_) {
    std::string uptime = must_run(n.id, "cut -d' ' -f1 /proc/uptime");
    std::printf("node %u: QMP after %.2f s, shell ready after %.2f s (guest uptime then %s s; /init: %s)\n", n.id,
                n.qmp_s, n.ready_s, uptime.c_str(), init_line(n.files.console_log).c_str());
    all = std::max(all, n.ready_s);
  }
  std::printf("boot-to-ready: %u guests ready %.2f s after the first QEMU was started\n", c_.nodes, all);
}

void Check::check_positions() {
  for (const auto& n : nodes_) {
    const std::string id = std::to_string(n.id);
    std::string poke = must_run(n.id, "uio-poke ivposition");
    std::string sysfs = must_run(n.id, "cat /sys/class/uio/uio0/device/ivposition");
    std::string env = must_run(n.id, "echo $GMM_NODE $GMM_PEER");
    std::string probe = must_run(n.id, std::string("cp /gmm/bin/gmm-uio-probe ") + kProbe + " && " + kProbe + " info");
    std::printf("node %s: uio-poke ivposition %s, sysfs %s, env GMM_NODE GMM_PEER = %s\n", id.c_str(), poke.c_str(),
                sysfs.c_str(), env.c_str());
    std::string compact = probe;
    std::replace(compact.begin(), compact.end(), '\n', ',');
    std::printf("node %s: gmm-uio-probe info: %s\n", id.c_str(), compact.c_str());
    if (n.id == 0) std::printf("node 0: share: %s\n", must_run(0, "grep gmmshare /proc/mounts").c_str());
    expect(poke == id && sysfs == id && env == id + " " + id, "node " + id + ": IVPosition is not its node id");
    expect(probe.find("ivposition " + id + "\n") != std::string::npos &&
               probe.find("pool_bytes " + std::to_string(c_.pool_size)) != std::string::npos &&
               probe.find("vectors 2") != std::string::npos,
           "node " + id + ": gmm-uio-probe (UioPool) disagrees");
  }
}

void Check::check_doorbells() {
  // A waiter opens /dev/uioN when it starts: ring until it has seen one.
  auto deliver = [&](const std::string& what, std::uint32_t waiter, const std::string& wait_cmd,
                     const std::function<void()>& ring) {
    std::atomic<bool> done = false;
    gmm::Result<std::string> got = std::string();
    auto start = Clock::now();
    std::jthread waiting([&] {
      got = in_guest(waiter, wait_cmd, 30s);
      done = true;
    });
    while (!done && since(start) < 30) {
      ring();
      for (int i = 0; i < 10 && !done; ++i) std::this_thread::sleep_for(30ms);
    }
    waiting.join();
    expect(got.ok(), what + ": no interrupt: " + (got ? "" : got.error().message));
    std::printf("doorbell %s: delivered, interrupt count %s (%.2f s incl. guest command start)\n", what.c_str(),
                got->c_str(), since(start));
  };
  for (std::uint32_t a = 0; a < c_.nodes; ++a) {
    std::uint32_t b = (a + 1) % c_.nodes;
    if (a == b) break;
    deliver("node " + std::to_string(a) + " -> node " + std::to_string(b) + " vector 0", b, "uio-poke wait 20000",
            [&] { (void)in_guest(a, "uio-poke doorbell " + std::to_string(b) + " 0"); });
  }
  for (const auto& n : nodes_)
    deliver("host -> node " + std::to_string(n.id) + " vector 1", n.id, std::string(kProbe) + " wait 20000",
            [&] { (void)server_->ring(static_cast<std::uint16_t>(n.id), 1); });
  for (const auto& n : nodes_) {
    (void)server_->wait_host(0ms);
    must_run(n.id, std::string(kProbe) + " ring " + std::to_string(kHostPeer) + " 0");
    auto mask = must(server_->wait_host(10s), "host peer wait");
    expect(mask == 1, "node " + std::to_string(n.id) + " -> host: no doorbell on vector 0");
    std::printf("doorbell node %u -> host peer %u vector 0: delivered\n", n.id, kHostPeer);
  }
}

void Check::check_shared_view() {
  int fd = ::open(c_.pool_path.c_str(), O_RDWR | O_CLOEXEC);
  expect(fd >= 0, "open pool file");
  auto* pool = static_cast<std::uint64_t*>(::mmap(nullptr, c_.pool_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ::close(fd);
  expect(pool != MAP_FAILED, "mmap pool file");
  std::atomic_ref<std::uint64_t> host_word(pool[512]);  // offset 4096
  host_word.store(0x600dcafe12345678);
  for (const auto& n : nodes_)
    expect(must_run(n.id, "uio-poke read 4096") == "0x600dcafe12345678", "node " + std::to_string(n.id) + " does not see the host's write");
  must_run(nodes_.back().id, "uio-poke write 4096 0x1122334455667788");
  expect(host_word.load() == 0x1122334455667788, "the host does not see the guest's write");
  host_word.store(0);
  ::munmap(pool, c_.pool_size);
  std::printf("shared view: host pool file and every guest's BAR2 agree (both directions)\n");
}

void Check::check_atomics() {
  std::vector<std::uint32_t> ids;
  for (const auto& n : nodes_) ids.push_back(n.id);
  GuestRunner runner = [this](std::uint32_t node, const std::string& command) { return in_guest(node, command, 900s); };
  for (const std::string tool : {"uio-poke", kProbe}) {
    AtomicCheckOptions options{ids, 0, c_.count, tool};
    auto report = must(check_cross_vm_atomics(options, runner), "atomic check with " + tool);
    std::printf("atomics (%s): %u guests x %llu adds = %llu, total %llu, %s, %.2f s (%.1f M adds/s overall)\n",
                tool.c_str(), c_.nodes, static_cast<unsigned long long>(c_.count),
                static_cast<unsigned long long>(report.expected), static_cast<unsigned long long>(report.total),
                report.overlapped ? "adds overlapped" : "adds did NOT overlap", report.seconds,
                static_cast<double>(report.expected) / report.seconds / 1e6);
    expect(report.overlapped || c_.nodes == 1, "atomic check inconclusive: the guests' adds did not overlap; raise --count");
  }
}

void Check::check_panic_and_shutdown() {
  Node& victim = nodes_.back();
  (void)victim.shell->run("echo c > /proc/sysrq-trigger", 2s);  // never answers
  auto panic = must(victim.qmp->wait_event("GUEST_PANICKED", 60s), "node " + std::to_string(victim.id) + " panic");
  std::string status = must(victim.qmp->status(), "query-status");
  std::printf("panic: node %u: QMP GUEST_PANICKED at %lld.%06lld, data %s; status %s\n", victim.id,
              static_cast<long long>(panic.seconds), static_cast<long long>(panic.microseconds), panic.data.dump().c_str(),
              status.c_str());
  expect(status == "guest-panicked" && panic.data.value("action", "") == "pause", "panic did not pause the VM");
  must(victim.qmp->execute("quit"), "quit");
  expect(wait_process(victim.pid, 20s) == 0, "QEMU of the panicked node did not quit");
  victim.pid = -1;

  Node& first = nodes_.front();
  if (&first == &victim) return;
  (void)first.shell->run("poweroff -f", 2s);
  auto shutdown = must(first.qmp->wait_event("SHUTDOWN", 60s), "node 0 poweroff");
  std::printf("poweroff: node %u: QMP SHUTDOWN at %lld.%06lld, data %s\n", first.id, static_cast<long long>(shutdown.seconds),
              static_cast<long long>(shutdown.microseconds), shutdown.data.dump().c_str());
  expect(wait_process(first.pid, 20s) == 0, "QEMU of node 0 did not exit 0 after the guest's poweroff");
  first.pid = -1;
}

void Check::run() {
  fs::create_directories(c_.dir);
  c_.pool_path = "/dev/shm/gmm-vm-probe-" + std::to_string(::getpid());
  {
    int fd = ::open(c_.pool_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    expect(fd >= 0 && ::ftruncate(fd, static_cast<off_t>(c_.pool_size)) == 0, "create pool file " + c_.pool_path);
    ::close(fd);
  }
  auto start = Clock::now();
  start_server();
  boot();
  check_positions();
  check_doorbells();
  check_shared_view();
  check_atomics();
  check_panic_and_shutdown();
  std::printf("total: %.1f s\n", since(start));
}

void Check::cleanup() {
  for (auto& n : nodes_)
    if (n.pid > 0) {
      if (n.qmp) (void)n.qmp->execute("quit", nullptr, 2s);
      stop_process(n.pid, 5s);
      n.pid = -1;
    }
  if (server_) {
    server_->stop();
    if (server_loop_.joinable()) server_loop_.join();
    server_.reset();
  }
  if (!c_.pool_path.empty()) ::unlink(c_.pool_path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gmm-vm-probe: boot guests and check ivshmem, doorbells, atomics, QMP"};
  Config c;
  app.add_option("--share", c.share, "build dir shared read-only at /gmm (has bin/gmm-uio-probe)")->required();
  app.add_option("--image", c.image, "guest image dir (default: SHARE/image)");
  app.add_option("--dir", c.dir, "work dir for logs and sockets (default: /tmp/gmm-vm-probe-PID)");
  app.add_option("--nodes", c.nodes, "guests")->check(CLI::Range(1, 4))->capture_default_str();
  app.add_option("--accel", c.accel, "auto, tcg or kvm")->check(CLI::IsMember({"auto", "tcg", "kvm"}))->capture_default_str();
  app.add_option("--smp", c.smp, "vCPUs per guest")->capture_default_str();
  app.add_option("--memory", c.memory_mb, "MiB per guest")->capture_default_str();
  app.add_option("--count", c.count, "atomic adds per guest")->capture_default_str();
  app.add_option("--boot-timeout", c.boot_timeout_s, "seconds for the guests to answer")->capture_default_str();
  app.add_flag("--keep", c.keep, "keep the work dir (logs) after a PASS");
  app.add_flag("--unsafe-one-vcpu", c.unsafe_one_vcpu, "allow --smp 1 under TCG (to see the atomic check fail)");
  CLI11_PARSE(app, argc, argv);
  if (c.image.empty()) c.image = c.share + "/image";
  if (c.dir.empty()) c.dir = "/tmp/gmm-vm-probe-" + std::to_string(::getpid());
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  ::signal(SIGPIPE, SIG_IGN);  // a closed stdout (| head) must not skip the cleanup
  const std::string dir = c.dir;
  const bool keep = c.keep;
  try {
    Check(std::move(c)).run();
  } catch (const Failure& f) {
    std::printf("FAIL: %s\n(logs in %s)\n", f.message.c_str(), dir.c_str());
    return 1;
  }
  std::printf("PASS\n");
  if (!keep) fs::remove_all(dir);
  else std::printf("(logs in %s)\n", dir.c_str());
  return 0;
}
