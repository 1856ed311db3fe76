// The accelerator decision with injected facts.
#include <catch2/catch.hpp>

#include "accel.hpp"
#include "vm_test_support.hpp"

using namespace gmm::host::vm;

TEST_CASE("cpuinfo_has_virt: whole words on flags lines only", "[accel]") {
  CHECK(cpuinfo_has_virt("processor\t: 0\nflags\t\t: fpu vme de pse vmx sse\n"));
  CHECK(cpuinfo_has_virt("flags\t\t: fpu svm\n"));
  CHECK_FALSE(cpuinfo_has_virt("flags\t\t: fpu vmxx svm_lock nosvm\n"));
  CHECK_FALSE(cpuinfo_has_virt("model name\t: vmx svm\nflags\t\t: fpu sse2\n"));
  CHECK_FALSE(cpuinfo_has_virt(""));
}

TEST_CASE("choose_accel", "[accel]") {
  AccelFacts good{true, "", true};
  AccelFacts no_virt{true, "", false};  // this platform: /dev/kvm opens, guests hang
  AccelFacts no_dev{false, "/dev/kvm: Permission denied", true};

  CHECK(choose_accel(AccelRequest::kAuto, good)->accel == Accel::kKvm);
  auto fallback = choose_accel(AccelRequest::kAuto, no_virt);
  CHECK(fallback->accel == Accel::kTcg);
  CHECK(fallback->reason.find("vmx/svm") != std::string::npos);
  auto denied = choose_accel(AccelRequest::kAuto, no_dev);
  CHECK(denied->accel == Accel::kTcg);
  CHECK(denied->reason.find("Permission denied") != std::string::npos);

  CHECK(choose_accel(AccelRequest::kTcg, good)->accel == Accel::kTcg);
  CHECK(choose_accel(AccelRequest::kKvm, good)->accel == Accel::kKvm);
  auto refused = choose_accel(AccelRequest::kKvm, no_virt);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("use --accel tcg") != std::string::npos);

  CHECK(parse_accel_request("auto") == AccelRequest::kAuto);
  CHECK(parse_accel_request("kvm") == AccelRequest::kKvm);
  CHECK_FALSE(parse_accel_request("hvf"));
  CHECK(accel_name(Accel::kTcg) == "tcg");
}

TEST_CASE("probe_accel_facts reads the files it is given", "[accel]") {
  test::TempDir dir;
  test::write_text(dir.path + "/cpuinfo", "flags\t\t: fpu svm\n");
  auto facts = probe_accel_facts(dir.path + "/no-kvm", dir.path + "/cpuinfo");
  CHECK_FALSE(facts.kvm_usable);
  CHECK(facts.kvm_detail.find("No such file") != std::string::npos);
  CHECK(facts.cpu_has_virt);
  // A regular file is not a KVM device.
  test::write_text(dir.path + "/fake-kvm", "");
  CHECK_FALSE(probe_accel_facts(dir.path + "/fake-kvm", dir.path + "/cpuinfo").kvm_usable);
}
