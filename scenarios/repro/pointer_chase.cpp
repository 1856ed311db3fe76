// gmm-chase: lmbench-style memory latency (lat_mem_rd) for the paper's
// Figure 7. A chain of elements placed STRIDE bytes apart through a region
// of SIZE bytes is walked with dependent loads (each load yields the next
// element's offset), so the time per load is the latency of whatever level
// of the memory hierarchy the region fits in. The paper's two series:
// 4 KB-512 KB at stride 4 KB and 512 KB-256 MB at stride 128 KB.
//
//   gmm-chase local [--max-size SIZE] [--loads N]
//   gmm-chase pool (--uio auto|/dev/uioN | --pool-file PATH) --offset BYTES --size BYTES
//             [--max-size SIZE] [--loads N]
//
// `local` chases over this process's own (anonymous) memory. `pool` chases over
// one global section that gmmd allocated (gmmctl alloc; offset and size from
// `gmmctl ls --json`): only that section's bytes are mapped, from the guest's
// gmm_ivshmem UIO map 1 (the ivshmem BAR2) or, in process mode, the pool
// file. The chain is written into the section's data only; GMM's tables are
// never touched. Elements hold offsets from the region base, not pointers, so
// the same code runs on both kinds of memory.
//
// Prints CSV on stdout: memory,size_bytes,stride_bytes,loads,ns_per_load.
// Errors: one line on stderr, exit 1 (2 for usage errors).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::uint64_t KiB = 1024, MiB = 1024 * KiB;

struct Series {
  std::uint64_t first_size, last_size, stride;
};
// The paper's two region-size ranges and strides (section 6).
constexpr Series kSeries[] = {{4 * KiB, 512 * KiB, 4 * KiB}, {512 * KiB, 256 * MiB, 128 * KiB}};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "gmm-chase: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void usage(const std::string& what) {
  std::fprintf(stderr,
               "gmm-chase: %s\nusage: gmm-chase local [--max-size SIZE] [--loads N]\n"
               "       gmm-chase pool (--uio auto|/dev/uioN | --pool-file PATH) --offset BYTES --size BYTES "
               "[--max-size SIZE] [--loads N]\n",
               what.c_str());
  std::exit(2);
}

// "64M", "4K", "4096", "0x1000" -> bytes.
std::optional<std::uint64_t> parse_size(std::string_view text) {
  int base = 10;
  if (text.starts_with("0x")) {
    text.remove_prefix(2);
    base = 16;
  }
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  if (unit.empty()) return value;
  if (unit == "K") return value * KiB;
  if (unit == "M") return value * MiB;
  if (unit == "G") return value * 1024 * MiB;
  return std::nullopt;
}

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) fail("cannot read " + path);
  return line;
}

// The gmm_ivshmem UIO device: "auto" = the first /sys/class/uio/uioN named gmm_ivshmem.
std::string find_uio(const std::string& wanted) {
  if (wanted != "auto") return wanted;
  for (int n = 0; n < 16; ++n) {
    std::ifstream in("/sys/class/uio/uio" + std::to_string(n) + "/name");
    std::string name;
    if (in && std::getline(in, name) && name == "gmm_ivshmem") return "/dev/uio" + std::to_string(n);
  }
  fail("no gmm_ivshmem UIO device under /sys/class/uio (is the driver loaded?)");
}

// Maps [offset, offset + size) of the pool and nothing else. UIO maps a
// region only from its start, so the BAR is mapped up to the section's end
// and the part before the section is unmapped again at once.
std::byte* map_section(const std::string& uio, const std::string& pool_file, std::uint64_t offset,
                       std::uint64_t size) {
  const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  if (offset % page || size % page) fail("section offset and size must be page multiples");
  const std::string path = uio.empty() ? pool_file : find_uio(uio);
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) fail("open " + path + ": " + std::strerror(errno));
  void* mapped = MAP_FAILED;
  std::byte* section = nullptr;
  if (uio.empty()) {
    mapped = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(offset));
    section = static_cast<std::byte*>(mapped);
  } else {
    const std::string maps = "/sys/class/uio/" + path.substr(path.rfind('/') + 1) + "/maps/map1/";
    const auto bar_size = parse_size(read_line(maps + "size"));
    const auto in_page = parse_size(read_line(maps + "offset"));
    if (!bar_size || !in_page || *in_page != 0) fail("unexpected UIO map 1 geometry under " + maps);
    if (offset + size > *bar_size) fail("section [offset, offset+size) lies outside the pool BAR");
    mapped = mmap(nullptr, offset + size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(page));
    if (mapped != MAP_FAILED && offset > 0 && munmap(mapped, offset) != 0) fail("munmap before the section failed");
    section = static_cast<std::byte*>(mapped) + offset;
  }
  if (mapped == MAP_FAILED) fail("mmap " + path + ": " + std::strerror(errno));
  close(fd);
  return section;
}

// Links the elements at 0, stride, 2*stride, ... < size into one cycle
// (each points back to the previous one, as lat_mem_rd does) and walks it
// LOADS times; returns the best ns per load of three walks.
double chase(std::byte* base, std::uint64_t size, std::uint64_t stride, std::uint64_t loads) {
  const std::uint64_t elements = size / stride;
  for (std::uint64_t i = 0; i < elements; ++i) {
    const std::uint64_t next = (i == 0 ? elements - 1 : i - 1) * stride;
    std::memcpy(base + i * stride, &next, sizeof next);
  }
  double best = 1e30;
  for (int walk = 0; walk < 3; ++walk) {
    std::uint64_t at = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < loads; ++i) at = *reinterpret_cast<volatile std::uint64_t*>(base + at);
    const auto elapsed = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start);
    if (at >= size) fail("chain corrupted");  // also keeps the walk from being optimised out
    best = std::min(best, elapsed.count() / static_cast<double>(loads));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage("missing local|pool");
  const std::string memory = argv[1];
  if (memory != "local" && memory != "pool") usage("unknown memory '" + memory + "' (local or pool)");
  std::string uio, pool_file;
  std::optional<std::uint64_t> offset, size, max_size;
  std::uint64_t loads = 1'000'000;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--uio") uio = value;
    else if (flag == "--pool-file") pool_file = value;
    else if (flag == "--offset") offset = parse_size(value);
    else if (flag == "--size") size = parse_size(value);
    else if (flag == "--max-size") max_size = parse_size(value);
    else if (flag == "--loads") {
      const auto parsed = parse_size(value);
      if (!parsed || *parsed == 0) usage("--loads needs a positive number");
      loads = *parsed;
    } else usage("unknown option " + flag);
    if ((flag == "--offset" && !offset) || (flag == "--size" && !size) || (flag == "--max-size" && !max_size))
      usage(flag + ": not a size: " + value);
  }
  std::uint64_t limit = max_size.value_or(kSeries[1].last_size);
  std::byte* base = nullptr;
  if (memory == "pool") {
    if (uio.empty() == pool_file.empty()) usage("pool needs exactly one of --uio and --pool-file");
    if (!offset || !size) usage("pool needs --offset and --size of the section");
    limit = std::min(limit, *size);
    base = map_section(uio, pool_file, *offset, *size);
  } else {
    // Only the elements' pages are ever touched (2048 of them for 256 MiB at
    // stride 128 KiB), so the region is reserved without commit accounting:
    // a 256 MiB guest can chase over a 256 MiB region.
    void* region = mmap(nullptr, limit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED)
      fail("cannot map " + std::to_string(limit) + " bytes of local memory: " + std::strerror(errno) +
           " (lower --max-size)");
    base = static_cast<std::byte*>(region);
  }
  // One untimed walk first: the first timed point would otherwise also pay
  // for the CPU leaving its idle state.
  chase(base, kSeries[0].first_size, kSeries[0].stride, loads);
  std::printf("memory,size_bytes,stride_bytes,loads,ns_per_load\n");
  for (const Series& series : kSeries)
    for (std::uint64_t region = series.first_size; region <= std::min(series.last_size, limit); region *= 2) {
      std::printf("%s,%llu,%llu,%llu,%.2f\n", memory.c_str(), static_cast<unsigned long long>(region),
                  static_cast<unsigned long long>(series.stride), static_cast<unsigned long long>(loads),
                  chase(base, region, series.stride, loads));
      std::fflush(stdout);
    }
  return 0;
}
