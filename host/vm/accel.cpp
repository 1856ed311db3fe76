#include "accel.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace gmm::host::vm {

std::string_view accel_name(Accel accel) { return accel == Accel::kKvm ? "kvm" : "tcg"; }

std::optional<AccelRequest> parse_accel_request(std::string_view text) {
  if (text == "auto") return AccelRequest::kAuto;
  if (text == "tcg") return AccelRequest::kTcg;
  if (text == "kvm") return AccelRequest::kKvm;
  return std::nullopt;
}

bool cpuinfo_has_virt(std::string_view cpuinfo) {
  std::istringstream lines{std::string(cpuinfo)};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream words(line.substr(colon + 1));
    std::string word;
    while (words >> word)
      if (word == "vmx" || word == "svm") return true;
  }
  return false;
}

AccelFacts probe_accel_facts(const std::string& dev_kvm, const std::string& cpuinfo) {
  AccelFacts facts;
  int fd = ::open(dev_kvm.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    facts.kvm_detail = dev_kvm + ": " + std::strerror(errno);
  } else {
    int version = ::ioctl(fd, KVM_GET_API_VERSION, 0);
    facts.kvm_usable = version == KVM_API_VERSION;
    if (!facts.kvm_usable) facts.kvm_detail = dev_kvm + ": KVM_GET_API_VERSION gave " + std::to_string(version);
    ::close(fd);
  }
  std::ifstream in(cpuinfo);
  std::stringstream text;
  text << in.rdbuf();
  facts.cpu_has_virt = cpuinfo_has_virt(text.str());
  return facts;
}

Result<AccelChoice> choose_accel(AccelRequest request, const AccelFacts& facts) {
  std::string missing;
  if (!facts.kvm_usable) missing = "/dev/kvm is not usable (" + facts.kvm_detail + ")";
  else if (!facts.cpu_has_virt) missing = "the CPU flags show no vmx/svm (KVM would hang the guests)";
  switch (request) {
    case AccelRequest::kTcg:
      return AccelChoice{Accel::kTcg, "tcg requested"};
    case AccelRequest::kKvm:
      if (!missing.empty()) return make_error(Errc::kInvalidArgument, "kvm requested but " + missing + "; use --accel tcg");
      return AccelChoice{Accel::kKvm, "kvm requested; /dev/kvm usable and vmx/svm present"};
    case AccelRequest::kAuto:
      break;
  }
  if (missing.empty()) return AccelChoice{Accel::kKvm, "auto: /dev/kvm usable and vmx/svm present"};
  return AccelChoice{Accel::kTcg, "auto: tcg, because " + missing};
}

}  // namespace gmm::host::vm
