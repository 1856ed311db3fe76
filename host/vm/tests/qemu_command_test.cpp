// qemu_argv: the node's QEMU command line, flag by flag.
#include <catch2/catch.hpp>

#include <algorithm>

#include "qemu_command.hpp"

using namespace gmm::host::vm;

namespace {

VmSettings settings() {
  VmSettings s;
  s.kernel = "/b/image/vmlinux";
  s.initrd = "/b/image/initramfs.cpio.gz";
  s.share_dir = "/b";
  s.dir = "/tmp/c";
  return s;
}

// The value following `flag` the `nth` time it appears ("" if absent).
std::string value_of(const std::vector<std::string>& argv, const std::string& flag, int nth = 0) {
  for (std::size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag && nth-- == 0) return argv[i + 1];
  return "";
}

std::vector<std::string> values_of(const std::vector<std::string>& argv, const std::string& flag) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag) out.push_back(argv[i + 1]);
  return out;
}

bool has(const std::vector<std::string>& argv, const std::string& word) {
  return std::find(argv.begin(), argv.end(), word) != argv.end();
}

}  // namespace

TEST_CASE("qemu_argv: node 2 under TCG", "[qemu_command]") {
  auto argv = qemu_argv(settings(), 2);
  REQUIRE(argv);
  const auto& a = *argv;
  CHECK(a.front() == "qemu-system-x86_64");
  CHECK(value_of(a, "-name") == "gmm-node2");
  CHECK(value_of(a, "-accel") == "tcg,thread=multi");
  CHECK_FALSE(has(a, "-cpu"));
  CHECK(value_of(a, "-smp") == "2");
  CHECK(value_of(a, "-m") == "256");
  CHECK(value_of(a, "-kernel") == "/b/image/vmlinux");
  CHECK(value_of(a, "-initrd") == "/b/image/initramfs.cpio.gz");
  CHECK(value_of(a, "-append") == "console=ttyS0 panic=-1 no_timer_check quiet gmm.node=2");
  CHECK(value_of(a, "-serial") == "file:/tmp/c/node2.console.log");
  CHECK(value_of(a, "-qmp") == "unix:/tmp/c/node2.qmp,server=on,wait=off");
  CHECK(values_of(a, "-chardev") == std::vector<std::string>{"socket,id=events,path=/tmp/c/node2.events,server=on,wait=off",
                                                            "socket,id=ctl,path=/tmp/c/node2.ctl,server=on,wait=off",
                                                            "socket,id=shell,path=/tmp/c/node2.shell,server=on,wait=off",
                                                            "socket,id=ivsh,path=/tmp/c/node2.ivshmem"});
  CHECK(values_of(a, "-device") == std::vector<std::string>{"virtio-serial-pci", "virtconsole,chardev=ctl",
                                                           "virtconsole,chardev=shell", "pvpanic-pci",
                                                           "ivshmem-doorbell,chardev=ivsh,vectors=2"});
  CHECK(value_of(a, "-mon") == "chardev=events,mode=control");
  CHECK(value_of(a, "-action") == "panic=pause");
  CHECK(value_of(a, "-virtfs") == "local,path=/b,mount_tag=gmmshare,security_model=none,readonly=on");
  for (const char* flag : {"-nodefaults", "-no-reboot"}) CHECK(has(a, flag));
  CHECK(value_of(a, "-display") == "none");
  CHECK(value_of(a, "-nic") == "none");
}

TEST_CASE("qemu_argv: settings change what they should", "[qemu_command]") {
  VmSettings s = settings();
  s.accel = Accel::kKvm;
  s.smp = 4;
  s.memory_mb = 512;
  s.vectors = 4;
  s.share_dir.clear();
  s.qemu = "/opt/qemu/bin/qemu-system-x86_64";
  s.init = "/gmm/bin/gmmd";
  s.init_args = {"--node", "1", "--pool", "uio"};
  s.options = {{"nodes", "4"}};
  s.quiet = false;
  s.extra_append = "initcall_debug";
  auto argv = qemu_argv(s, 1);
  REQUIRE(argv);
  CHECK(argv->front() == "/opt/qemu/bin/qemu-system-x86_64");
  CHECK(value_of(*argv, "-accel") == "kvm");
  CHECK(value_of(*argv, "-cpu") == "host");
  CHECK(value_of(*argv, "-smp") == "4");
  CHECK(value_of(*argv, "-m") == "512");
  CHECK(value_of(*argv, "-device", 4) == "ivshmem-doorbell,chardev=ivsh,vectors=4");
  CHECK_FALSE(has(*argv, "-virtfs"));
  CHECK(value_of(*argv, "-append") ==
        "console=ttyS0 panic=-1 no_timer_check gmm.node=1 gmm.init=/gmm/bin/gmmd gmm.args=--node,1,--pool,uio gmm.nodes=4 initcall_debug");
}

TEST_CASE("qemu_argv: refusals", "[qemu_command]") {
  VmSettings s = settings();
  s.smp = 1;
  auto one_cpu = qemu_argv(s, 0);
  REQUIRE_FALSE(one_cpu);
  CHECK(one_cpu.error().message.find("2 vCPUs") != std::string::npos);
  s.unsafe_one_vcpu = true;  // for demonstrating the atomic check only
  CHECK(qemu_argv(s, 0));
  s.unsafe_one_vcpu = false;
  s.accel = Accel::kKvm;
  CHECK(qemu_argv(s, 0));  // one vCPU is fine under KVM (atomics are the CPU's)

  s = settings();
  s.kernel.clear();
  CHECK(qemu_argv(s, 0).error().message.find("kernel is not set") != std::string::npos);
  s = settings();
  s.share_dir = "/b,x";
  CHECK(qemu_argv(s, 0).error().message.find("comma") != std::string::npos);
  s = settings();
  s.dir = "/tmp/" + std::string(100, 'd');
  CHECK(qemu_argv(s, 0).error().message.find("longer than 107") != std::string::npos);
  s = settings();
  s.init_args = {"a,b"};
  CHECK_FALSE(qemu_argv(s, 0));
  s = settings();
  s.options = {{"name", "two words"}};
  CHECK_FALSE(qemu_argv(s, 0));
  s = settings();
  s.init = "/gmm/bin/x y";
  CHECK_FALSE(qemu_argv(s, 0));
}

TEST_CASE("node_files and shell_line", "[qemu_command]") {
  NodeFiles f = node_files("/d", 3);
  CHECK(f.console_log == "/d/node3.console.log");
  CHECK(f.qemu_log == "/d/node3.qemu.log");
  CHECK(f.qmp == "/d/node3.qmp");
  CHECK(f.events == "/d/node3.events");
  CHECK(f.ctl == "/d/node3.ctl");
  CHECK(f.ivshmem == "/d/node3.ivshmem");
  CHECK(f.shell == "/d/node3.shell");
  CHECK(shell_line({"qemu", "-append", "console=ttyS0 quiet", "it's"}) == "qemu -append 'console=ttyS0 quiet' 'it'\\''s'");
}
