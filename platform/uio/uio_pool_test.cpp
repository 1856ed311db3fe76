// The UIO pool backend and doorbell against a fake sysfs and a fake
// /dev/uioN: a regular file laid out like the device's mmap space (map 0 =
// the first page, registers; map 1 = from page 1, the pool). The real device
// is exercised in a VM by gmm-uio-probe (two-vm-probe.sh).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "gmm/messages.hpp"
#include "testing/temp_dir.hpp"
#include "uio/uio_doorbell.hpp"
#include "uio/uio_pool.hpp"

using gmm::UioPool;
namespace test = gmm::test;

namespace {

constexpr std::uint64_t kPool = 64 * 1024;

// /sys/class/uio/uioN as the kernel shows it for gmm_ivshmem (or another driver).
void fake_uio(const std::string& sysfs, const std::string& name, const std::string& driver, bool with_pool = true) {
  const std::string d = sysfs + "/" + name;
  test::write_text(d + "/name", driver + "\n");
  test::write_text(d + "/version", "0.1\n");
  test::write_text(d + "/maps/map0/addr", "0x00000000febf1000\n");
  test::write_text(d + "/maps/map0/size", "0x0000000000001000\n");
  test::write_text(d + "/maps/map0/offset", "0x0\n");
  if (with_pool) {
    test::write_text(d + "/maps/map1/addr", "0x0000000100000000\n");
    test::write_text(d + "/maps/map1/size", "0x0000000000010000\n");
    test::write_text(d + "/maps/map1/offset", "0x0\n");
  }
  test::write_text(d + "/device/vectors", "2\n");
  test::write_text(d + "/device/ivposition", "3\n");
}

// fake_uio("uio0", "gmm_ivshmem") plus /dev/uio0 as a regular file the size
// of the device's mmap space (one register page, then the pool); its path.
std::string fake_gmm_device(const test::TempDir& dir) {
  fake_uio(dir.path + "/sys/class/uio", "uio0", "gmm_ivshmem");
  const std::string dev = dir.path + "/dev/uio0";
  test::write_text(dev, "");
  test::make_file(dev, static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) + kPool);
  return dev;
}

// A scratch directory with a fake gmm_ivshmem device in it.
struct FakeDevice {
  test::TempDir dir;
  std::string sysfs = dir.path + "/sys/class/uio";
  std::string dev = fake_gmm_device(dir);
};

}  // namespace

TEST_CASE("find_uio_device: by driver name, lowest number first; maps parsed", "[uio_pool]") {
  test::TempDir dir;
  const std::string sysfs = dir.path + "/sys/class/uio";
  fake_uio(sysfs, "uio0", "uio_pci_generic");
  fake_uio(sysfs, "uio10", "gmm_ivshmem");
  fake_uio(sysfs, "uio2", "gmm_ivshmem");
  auto device = gmm::find_uio_device(sysfs, dir.path + "/dev");
  REQUIRE(device);
  CHECK(device->name == "uio2");
  CHECK(device->dev_path == dir.path + "/dev/uio2");
  REQUIRE(device->maps.size() == 2);
  CHECK(device->maps[0].addr == 0xfebf1000);
  CHECK(device->maps[0].size == 0x1000);
  CHECK(device->maps[1].addr == 0x100000000);
  CHECK(device->maps[1].size == kPool);
  CHECK(device->vectors == 2);
  CHECK(device->ivposition == 3);
}

TEST_CASE("find_uio_device: nothing there, or a device without the pool map", "[uio_pool]") {
  test::TempDir dir;
  const std::string sysfs = dir.path + "/sys/class/uio";
  auto none = gmm::find_uio_device(sysfs);
  REQUIRE_FALSE(none);
  CHECK(none.error().code == gmm::Errc::kNotFound);
  CHECK(none.error().message.find("no UIO device named gmm_ivshmem") != std::string::npos);

  fake_uio(sysfs, "uio0", "gmm_ivshmem", /*with_pool=*/false);
  auto device = gmm::find_uio_device(sysfs, dir.path + "/dev");
  REQUIRE(device);
  auto pool = UioPool::open(*device);
  REQUIRE_FALSE(pool);
  CHECK(pool.error().message.find("map 1") != std::string::npos);

  test::write_text(sysfs + "/uio0/maps/map0/size", "lots\n");
  auto garbled = gmm::find_uio_device(sysfs, dir.path + "/dev");
  REQUIRE_FALSE(garbled);
  CHECK(garbled.error().message.find("not a number") != std::string::npos);
}

TEST_CASE("UioPool: maps the pool and the registers at the UIO mmap offsets", "[uio_pool]") {
  FakeDevice fake;
  const auto& [dir, sysfs, dev] = fake;
  const long page = ::sysconf(_SC_PAGESIZE);
  {  // IVPosition register (BAR0 + 8) = 3; a pool word at offset 16
    int fd = ::open(dev.c_str(), O_RDWR);
    std::uint32_t position = 3;
    std::uint64_t word = 0xabcdef;
    REQUIRE(::pwrite(fd, &position, 4, 8) == 4);
    REQUIRE(::pwrite(fd, &word, 8, page + 16) == 8);
    ::close(fd);
  }
  auto device = gmm::find_uio_device(sysfs, dir.path + "/dev");
  REQUIRE(device);
  auto pool = UioPool::open(*device);
  REQUIRE(pool);
  UioPool& p = **pool;
  CHECK(p.size() == kPool);
  CHECK(p.describe() == "ivshmem BAR2 via " + dev);
  CHECK(p.ivposition() == 3);
  std::uint64_t seen = 0;
  std::memcpy(&seen, p.base() + 16, 8);
  CHECK(seen == 0xabcdef);

  REQUIRE(p.ring(5, 1));  // Doorbell (BAR0 + 12) = 5 << 16 | 1
  p.base()[kPool - 1] = std::byte{0x5a};
  pool->reset();  // unmap: the writes are in the file
  int fd = ::open(dev.c_str(), O_RDONLY);
  std::uint32_t doorbell = 0;
  unsigned char last = 0;
  REQUIRE(::pread(fd, &doorbell, 4, 12) == 4);
  REQUIRE(::pread(fd, &last, 1, page + static_cast<long>(kPool) - 1) == 1);
  ::close(fd);
  CHECK(doorbell == (5u << 16 | 1));
  CHECK(last == 0x5a);

  auto again = UioPool::open(*device);
  REQUIRE(again);
  CHECK_FALSE((*again)->ring(0, 2));  // vector out of range
  device->vectors = 0;
  auto plain = UioPool::open(*device);
  REQUIRE(plain);
  auto no_bell = (*plain)->ring(0, 0);
  REQUIRE_FALSE(no_bell);
  CHECK(no_bell.error().message.find("ivshmem-plain") != std::string::npos);
}

TEST_CASE("UioDoorbell: ring writes the Doorbell register, ignores what the register cannot hold", "[uio_pool]") {
  FakeDevice fake;
  const auto& [dir, sysfs, dev] = fake;
  auto device = gmm::find_uio_device(sysfs, dir.path + "/dev");
  REQUIRE(device);
  auto pool = UioPool::open(*device);
  REQUIRE(pool);
  auto doorbell_register = [&] {
    std::uint32_t value = 0;  // the shared file mapping: visible through the file at once
    int fd = ::open(dev.c_str(), O_RDONLY);
    REQUIRE(::pread(fd, &value, 4, 12) == 4);
    ::close(fd);
    return value;
  };
  gmm::UioDoorbell bell(**pool);
  bell.ring(2, gmm::kDoorbellVector);  // node 2, messages vector
  CHECK(doorbell_register() == (2u << 16 | 0));
  bell.ring(1, 1);
  CHECK(doorbell_register() == (1u << 16 | 1));
  bell.ring(1, 2);        // the device has 2 vectors: not rung
  bell.ring(70000, 0);    // no such peer id: not rung
  CHECK(doorbell_register() == (1u << 16 | 1));
}
