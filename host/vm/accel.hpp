// Choosing QEMU's accelerator. KVM is only worth trying when /dev/kvm can be
// used AND the CPU advertises hardware virtualisation (vmx or svm in
// /proc/cpuinfo): on the project's cloud machines /dev/kvm exists and
// KVM_CREATE_VM succeeds, yet a guest hangs (no vmx/svm in the flags). So
// `auto` means KVM only when both facts hold, else TCG. The decision is a pure
// function of the facts, which tests inject; probe_accel_facts() reads them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "gmm/result.hpp"

namespace gmm::host::vm {

enum class Accel { kTcg, kKvm };
enum class AccelRequest { kAuto, kTcg, kKvm };

std::string_view accel_name(Accel accel);  // "tcg", "kvm"
std::optional<AccelRequest> parse_accel_request(std::string_view text);  // auto|tcg|kvm

struct AccelFacts {
  bool kvm_usable = false;      // /dev/kvm opens read-write and answers KVM_GET_API_VERSION 12
  std::string kvm_detail;       // why not, when not ("/dev/kvm: Permission denied")
  bool cpu_has_virt = false;    // vmx or svm among the cpuinfo flags
};

struct AccelChoice {
  Accel accel = Accel::kTcg;
  std::string reason;  // one line for the log: why this one
};

// True when a "flags" line of /proc/cpuinfo text names vmx or svm (whole words).
bool cpuinfo_has_virt(std::string_view cpuinfo);
AccelFacts probe_accel_facts(const std::string& dev_kvm = "/dev/kvm", const std::string& cpuinfo = "/proc/cpuinfo");

// auto: KVM if both facts hold, else TCG (reason says which fact failed).
// tcg: TCG. kvm: KVM, or kInvalidArgument naming the missing fact.
Result<AccelChoice> choose_accel(AccelRequest request, const AccelFacts& facts);

}  // namespace gmm::host::vm
