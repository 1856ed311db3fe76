#include "qemu_command.hpp"

#include <algorithm>

#include "io/unix_socket.hpp"

namespace gmm::host::vm {

namespace {

Error invalid(const std::string& what) { return make_error(Errc::kInvalidArgument, "qemu command: " + what); }

bool has_space(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n'; });
}

// QEMU splits option values at commas (",," escapes one): refuse them
// rather than escape, a comma in a path is almost surely a mistake.
Status plain_path(const std::string& what, const std::string& path) {
  if (path.empty()) return invalid(what + " is not set");
  if (path.find(',') != std::string::npos) return invalid(what + " contains a comma: " + path);
  return ok_status();
}

}  // namespace

NodeFiles node_files(const std::string& dir, std::uint32_t node) {
  const std::string base = dir + "/node" + std::to_string(node);
  return {base + ".console.log", base + ".qemu.log", base + ".qmp",  base + ".events",
          base + ".ctl",         base + ".ivshmem",  base + ".shell"};
}

Result<std::string> kernel_append(const VmSettings& s, std::uint32_t node) {
  std::vector<std::pair<std::string, std::string>> gmm = {{"node", std::to_string(node)}};
  if (!s.init.empty()) gmm.emplace_back("init", s.init);
  if (!s.init_args.empty()) {
    std::string joined;
    for (const auto& a : s.init_args) {
      if (a.empty() || a.find(',') != std::string::npos)
        return invalid("gmm.args word \"" + a + "\" is empty or has a comma (the guest splits on commas)");
      joined += (joined.empty() ? "" : ",") + a;
    }
    gmm.emplace_back("args", joined);
  }
  gmm.insert(gmm.end(), s.options.begin(), s.options.end());
  // no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer
  // probe can miss its ticks and panic the boot ("IO-APIC + timer doesn't
  // work"); an emulated timer needs no probe.
  std::string line = "console=ttyS0 panic=-1 no_timer_check";
  if (s.quiet) line += " quiet";
  for (const auto& [key, value] : gmm) {
    if (key.empty() || has_space(key) || value.empty() || has_space(value) || key.find('=') != std::string::npos)
      return invalid("gmm." + key + "=" + value + " cannot go on a kernel command line (empty, '=' in the key, or whitespace)");
    line += " gmm." + key + "=" + value;
  }
  if (!s.extra_append.empty()) line += " " + s.extra_append;
  return line;
}

Result<std::vector<std::string>> qemu_argv(const VmSettings& s, std::uint32_t node) {
  if (s.accel == Accel::kTcg && s.smp < 2 && !s.unsafe_one_vcpu)
    return invalid("-smp " + std::to_string(s.smp) + " under TCG: each guest needs 2 vCPUs, or cross-VM atomics break");
  if (s.smp == 0 || s.memory_mb < 64) return invalid("need at least 1 vCPU and 64 MiB");
  if (s.vectors == 0) return invalid("ivshmem needs at least one vector");
  for (auto [what, path] : {std::pair{"kernel", &s.kernel}, {"initrd", &s.initrd}, {"cluster dir", &s.dir}})
    if (auto ok = plain_path(what, *path); !ok) return ok.error();
  if (!s.share_dir.empty())
    if (auto ok = plain_path("share dir", s.share_dir); !ok) return ok.error();
  const NodeFiles f = node_files(s.dir, node);
  for (const auto* socket : {&f.qmp, &f.events, &f.ctl, &f.ivshmem, &f.shell})
    if (auto ok = check_socket_path(*socket); !ok) return invalid(ok.error().message);
  auto append = kernel_append(s, node);
  if (!append) return append.error();

  std::vector<std::string> argv = {
      s.qemu,
      "-name", "gmm-node" + std::to_string(node),
      "-accel", s.accel == Accel::kKvm ? "kvm" : "tcg,thread=multi",
  };
  if (s.accel == Accel::kKvm) argv.insert(argv.end(), {"-cpu", "host"});
  argv.insert(argv.end(), {
      "-smp", std::to_string(s.smp),
      "-m", std::to_string(s.memory_mb),
      "-nodefaults", "-display", "none", "-no-reboot", "-nic", "none",
      "-kernel", s.kernel,
      "-initrd", s.initrd,
      "-append", *append,
      "-serial", "file:" + f.console_log,
      "-qmp", "unix:" + f.qmp + ",server=on,wait=off",
      "-chardev", "socket,id=events,path=" + f.events + ",server=on,wait=off",
      "-mon", "chardev=events,mode=control",
      "-device", "virtio-serial-pci",
      "-chardev", "socket,id=ctl,path=" + f.ctl + ",server=on,wait=off",
      "-device", "virtconsole,chardev=ctl",
      "-chardev", "socket,id=shell,path=" + f.shell + ",server=on,wait=off",
      "-device", "virtconsole,chardev=shell",
      "-device", "pvpanic-pci",
      "-action", "panic=pause",
      "-chardev", "socket,id=ivsh,path=" + f.ivshmem,
      "-device", "ivshmem-doorbell,chardev=ivsh,vectors=" + std::to_string(s.vectors),
  });
  if (!s.share_dir.empty())
    argv.insert(argv.end(), {"-virtfs", "local,path=" + s.share_dir + ",mount_tag=gmmshare,security_model=none,readonly=on"});
  return argv;
}

std::string shell_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) {
    bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=/.,:@%") ==
                                   std::string::npos;
    std::string quoted = "'";
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
    line += (line.empty() ? "" : " ") + (plain ? a : quoted);
  }
  return line;
}

}  // namespace gmm::host::vm
