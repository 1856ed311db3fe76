#include "uio/uio_pool.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace gmm {

namespace fs = std::filesystem;

namespace {

// BAR0 register offsets, named after QEMU's ivshmem-spec.
constexpr std::uint64_t kIvPosition = 8;
constexpr std::uint64_t kDoorbell = 12;
constexpr std::size_t kRegsMap = 0;
constexpr std::size_t kPoolMap = 1;

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// First line of a sysfs file, without the newline; nullopt if unreadable.
std::optional<std::string> read_line(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

// A number as sysfs prints it ("4096", "0x0000000100000000", "-1").
std::optional<std::int64_t> parse_number(const std::string& text) {
  try {
    std::size_t used = 0;
    long long value = std::stoll(text, &used, 0);
    if (text.find_first_not_of(" \t", used) != std::string::npos) {
      // Values above INT64_MAX do not occur in these files.
      return std::nullopt;
    }
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<std::uint64_t> parse_u64(const std::string& text) {
  try {
    std::size_t used = 0;
    unsigned long long value = std::stoull(text, &used, 0);
    if (text.find_first_not_of(" \t", used) != std::string::npos || text.find('-') != std::string::npos)
      return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Result<std::uint64_t> read_u64(const fs::path& path) {
  auto line = read_line(path);
  if (!line) return make_error(Errc::kIo, "cannot read " + path.string());
  auto value = parse_u64(*line);
  if (!value) return make_error(Errc::kIo, path.string() + ": not a number: \"" + *line + "\"");
  return *value;
}

// uio10 after uio9.
std::optional<unsigned> uio_number(const std::string& name) {
  if (name.rfind("uio", 0) != 0 || name.size() == 3) return std::nullopt;
  auto digits = name.substr(3);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return static_cast<unsigned>(std::stoul(digits));
}

}  // namespace

Result<UioDevice> read_uio_device(const std::string& sysfs_class_dir, const std::string& name,
                                  const std::string& dev_dir) {
  UioDevice device;
  device.name = name;
  device.dev_path = dev_dir + "/" + name;
  device.sysfs_dir = sysfs_class_dir + "/" + name;
  const fs::path dir(device.sysfs_dir);
  for (std::size_t m = 0;; ++m) {
    const fs::path map = dir / "maps" / ("map" + std::to_string(m));
    std::error_code ec;
    if (!fs::exists(map, ec)) break;
    UioMap entry;
    for (auto [field, out] : {std::pair{"addr", &entry.addr}, {"size", &entry.size}, {"offset", &entry.offset}}) {
      auto value = read_u64(map / field);
      if (!value) return value.error();
      *out = *value;
    }
    device.maps.push_back(entry);
  }
  if (device.maps.empty()) return make_error(Errc::kNotFound, device.sysfs_dir + " has no maps");
  if (auto vectors = read_line(dir / "device" / "vectors"); vectors && parse_u64(*vectors))
    device.vectors = static_cast<std::uint32_t>(*parse_u64(*vectors));
  if (auto position = read_line(dir / "device" / "ivposition"); position && parse_number(*position))
    device.ivposition = static_cast<std::int32_t>(*parse_number(*position));
  return device;
}

Result<UioDevice> find_uio_device(const std::string& sysfs_class_dir, const std::string& dev_dir,
                                  const std::string& driver) {
  std::vector<std::pair<unsigned, std::string>> candidates;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(sysfs_class_dir, ec)) {
    const std::string name = entry.path().filename().string();
    auto number = uio_number(name);
    if (number && read_line(entry.path() / "name") == driver) candidates.emplace_back(*number, name);
  }
  if (candidates.empty())
    return make_error(Errc::kNotFound, "no UIO device named " + driver + " under " + sysfs_class_dir +
                                           " (is the module loaded? is there an ivshmem device?)");
  std::sort(candidates.begin(), candidates.end());
  return read_uio_device(sysfs_class_dir, candidates.front().second, dev_dir);
}

Result<std::unique_ptr<UioPool>> UioPool::open(const UioDevice& device) {
  if (device.maps.size() <= kPoolMap)
    return make_error(Errc::kInvalidArgument, device.sysfs_dir + ": needs map 0 (registers) and map 1 (pool)");
  const auto& regs = device.maps[kRegsMap];
  const auto& pool = device.maps[kPoolMap];
  if (regs.size < kDoorbell + 4 || regs.offset >= regs.size || pool.offset >= pool.size)
    return make_error(Errc::kInvalidArgument, device.sysfs_dir + ": maps too small");
  int fd = ::open(device.dev_path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::kIo, errno_text("open " + device.dev_path));
  std::unique_ptr<UioPool> self(new UioPool(device, fd));
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  auto map = [&](std::size_t index, const UioMap& m, void*& out, std::uint64_t& len) -> Status {
    void* p = ::mmap(nullptr, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(index * page));
    if (p == MAP_FAILED) return make_error(Errc::kIo, errno_text("mmap map" + std::to_string(index) + " of " + device.dev_path));
    out = p;
    len = m.size;
    return ok_status();
  };
  if (auto ok = map(kRegsMap, regs, self->regs_map_, self->regs_map_len_); !ok) return ok.error();
  if (auto ok = map(kPoolMap, pool, self->pool_map_, self->pool_map_len_); !ok) return ok.error();
  self->regs_ = reinterpret_cast<volatile std::uint32_t*>(static_cast<char*>(self->regs_map_) + regs.offset);
  self->pool_ = static_cast<std::byte*>(self->pool_map_) + pool.offset;
  self->pool_size_ = pool.size - pool.offset;
  return self;
}

Result<std::unique_ptr<UioPool>> UioPool::open_default() {
  auto device = find_uio_device();
  if (!device) return device.error();
  return open(*device);
}

UioPool::~UioPool() {
  if (pool_map_) ::munmap(pool_map_, pool_map_len_);
  if (regs_map_) ::munmap(regs_map_, regs_map_len_);
  if (fd_ >= 0) ::close(fd_);
}

std::string UioPool::describe() const { return "ivshmem BAR2 via " + device_.dev_path; }

std::int32_t UioPool::ivposition() const { return static_cast<std::int32_t>(regs_[kIvPosition / 4]); }

Status UioPool::ring(std::uint16_t peer, std::uint16_t vector) const {
  if (device_.vectors == 0)
    return make_error(Errc::kInvalidArgument, device_.name + " has no interrupt vectors (ivshmem-plain): no doorbell");
  if (vector >= device_.vectors)
    return make_error(Errc::kInvalidArgument, "vector " + std::to_string(vector) + " out of range (device has " +
                                                  std::to_string(device_.vectors) + ")");
  regs_[kDoorbell / 4] = static_cast<std::uint32_t>(peer) << 16 | vector;
  return ok_status();
}

Result<std::optional<std::uint32_t>> UioPool::wait_event(std::chrono::milliseconds timeout) const {
  pollfd p{fd_, POLLIN, 0};
  for (;;) {
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n < 0 && errno == EINTR) continue;  // (restarts the full timeout: fine for its callers)
    if (n < 0) return make_error(Errc::kIo, errno_text("poll " + device_.dev_path));
    if (n == 0) return std::optional<std::uint32_t>();
    break;
  }
  std::uint32_t count = 0;
  if (::read(fd_, &count, sizeof(count)) != static_cast<ssize_t>(sizeof(count)))
    return make_error(Errc::kIo, errno_text("read " + device_.dev_path + " (no interrupts on ivshmem-plain)"));
  return std::optional<std::uint32_t>(count);
}

}  // namespace gmm
