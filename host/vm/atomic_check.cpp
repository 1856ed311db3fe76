#include "atomic_check.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <sstream>
#include <thread>

namespace gmm::host::vm {

std::optional<std::uint64_t> parse_poke_value(const std::string& output) {
  std::istringstream lines(output);
  std::string line, last;
  while (std::getline(lines, line))
    if (line.rfind("0x", 0) == 0) last = line;  // the value is the last 0x line
  if (last.empty()) return std::nullopt;
  try {
    std::size_t used = 0;
    std::uint64_t value = std::stoull(last, &used, 16);
    if (last.find_first_not_of(" \r\t", used) != std::string::npos) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Result<AtomicCheckReport> check_cross_vm_atomics(const AtomicCheckOptions& o, const GuestRunner& run) {
  if (o.nodes.empty() || o.count == 0) return make_error(Errc::kInvalidArgument, "atomic check: no nodes or zero count");
  if (o.offset % 8 != 0) return make_error(Errc::kInvalidArgument, "atomic check: offset must be 8-aligned");
  const std::string off = std::to_string(o.offset);
  const std::uint32_t first = o.nodes.front();
  auto step = [&](std::uint32_t node, const std::string& command) -> Result<std::string> {
    auto out = run(node, command);
    if (!out) return make_error(out.error().code, "atomic check: node " + std::to_string(node) + ": `" + command +
                                                      "` failed: " + out.error().message);
    return out;
  };

  if (auto zeroed = step(first, o.tool + " write " + off + " 0"); !zeroed) return zeroed.error();
  // Warm-up: the first run of the tool may load it (from 9p: a noticeable
  // time under TCG), which would let one guest finish before the next starts.
  for (auto node : o.nodes)
    if (auto warm = step(node, o.tool + " read " + off); !warm) return warm.error();
  std::vector<std::optional<Error>> failures(o.nodes.size());
  std::vector<std::optional<std::uint64_t>> seen(o.nodes.size());  // the word after each guest's last add
  auto start = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> adders;
    for (std::size_t i = 0; i < o.nodes.size(); ++i)
      adders.emplace_back([&, i] {
        auto added = step(o.nodes[i], o.tool + " add " + off + " " + std::to_string(o.count));
        if (!added) failures[i] = added.error();
        else seen[i] = parse_poke_value(*added);
      });
  }
  AtomicCheckReport report;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& failure : failures)
    if (failure) return *failure;
  auto read = step(first, o.tool + " read " + off);
  if (!read) return read.error();
  auto total = parse_poke_value(*read);
  if (!total) return make_error(Errc::kIo, "atomic check: cannot parse `" + o.tool + " read` output: " + *read);
  (void)step(first, o.tool + " write " + off + " 0");  // leave the word as we found it

  report.expected = o.count * o.nodes.size();
  report.total = *total;
  std::uint64_t first_finisher = report.expected;  // the smallest value seen
  for (const auto& value : seen) first_finisher = std::min(first_finisher, value.value_or(0));
  report.overlapped = o.nodes.size() > 1 && first_finisher > o.count;
  if (report.total != report.expected)
    return make_error(Errc::kIo, "cross-VM atomics are broken: expected " + std::to_string(report.expected) + ", got " +
                                     std::to_string(report.total) +
                                     "; under TCG each guest needs 2 vCPUs (-smp 2, MTTCG)");
  return report;
}

}  // namespace gmm::host::vm
