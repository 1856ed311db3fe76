// gmm-replicated-list: a small recoverable application (paper 2, 3.7, 4.2).
//
// It keeps a linked list with direct pointers in a primary section on one
// node and a byte-for-byte secondary copy on another. The list lives at the
// primary's global address, so both copies hold pointers into that range.
// When the primary's node fails, the application remaps the secondary in
// place over the primary's range: every pointer it holds stays valid, it
// proves the list intact (count and checksum) and keeps appending.
//
//   gmm-replicated-list --primary-on P --secondary-on S [--records N]
//                       [--crash-primary kill|pause]
//   gmm-replicated-list --setup --primary-on P --secondary-on S [--records N]
//   gmm-replicated-list --recover [--records N]
//
// One process: it builds the list, then waits for P to fail (or crashes P
// itself with --crash-primary, through gmm-host in process mode, where
// `gmm-host exec` sets GMM_CLUSTER_DIR), promotes and keeps appending.
// In phases, for VMs, where the host injects the crash: --setup builds the
// list and exits (the sections stay); after P has failed and been
// recovered, --recover on any survivor maps the secondary at the address
// the list was built at (kept in its header), proves it intact, appends,
// and destroys both sections. Exit status 0 and "list intact" on success;
// 1 with a one-line reason otherwise.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "gmm/app.hpp"

namespace {

using gmm::app::Access;
using gmm::app::CreateOptions;
using gmm::app::NodeEvent;
using gmm::app::Session;

constexpr std::uint64_t kSectionSize = 1 << 20;
constexpr std::uint64_t kMagic = 0x5453494C4D4D4721ULL;  // "!GMMLIST"

struct Record {
  Record* next;  // a direct pointer into the list's range
  std::uint64_t value;
};

struct Header {
  std::uint64_t magic;
  char* base;    // the address the list lives at (the primary's global address)
  Record* head;  // newest first
  std::uint64_t count;
  std::uint64_t checksum;  // sum of the values
  std::uint64_t used;      // bytes of the section in use (header first)
};

struct Failure {
  std::string message;
};

template <class T>
T must(gmm::Result<T> result, const char* what) {
  if (!result) throw Failure{std::string(what) + ": " + result.error().message};
  return std::move(*result);
}
void must(const gmm::Status& status, const char* what) {
  if (!status) throw Failure{std::string(what) + ": " + status.error().message};
}

// The application's one write path: update the list in the primary, then
// copy exactly the bytes it touched to the secondary (write-through).
class ReplicatedList {
 public:
  ReplicatedList(char* primary, char* secondary) : base_(primary), mirror_(secondary) {}
  Header& header() { return *reinterpret_cast<Header*>(base_); }

  void format() {
    Header& h = header();
    h = Header{kMagic, base_, nullptr, 0, 0, sizeof(Header)};
    replicate(0, sizeof(Header));
  }

  void append(std::uint64_t value) {
    Header& h = header();
    if (h.used + sizeof(Record) > kSectionSize) throw Failure{"the list's section is full"};
    auto* record = reinterpret_cast<Record*>(base_ + h.used);
    *record = Record{h.head, value};
    replicate(h.used, sizeof(Record));
    h.head = record;
    h.count += 1;
    h.checksum += value;
    h.used += sizeof(Record);
    replicate(0, sizeof(Header));
  }

  // After a promotion there is no secondary until the application makes one.
  void drop_secondary() { mirror_ = nullptr; }

  // Walks the pointers; true if count and checksum agree with the header.
  bool intact(std::uint64_t* walked) {
    const Header& h = header();
    std::uint64_t count = 0, sum = 0;
    for (const Record* r = h.head; r != nullptr && count <= h.count; r = r->next) {
      ++count;
      sum += r->value;
    }
    *walked = count;
    return h.magic == kMagic && count == h.count && sum == h.checksum;
  }

 private:
  void replicate(std::uint64_t offset, std::uint64_t length) {
    if (mirror_ != nullptr) std::memcpy(mirror_ + offset, base_ + offset, length);
  }
  char* base_;
  char* mirror_;
};

void crash_node(std::uint32_t node, const std::string& how) {
  std::error_code error;
  auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  std::string host = error ? "gmm-host" : (self.parent_path() / "gmm-host").string();
  std::string command = host + " crash " + std::to_string(node) + " --how " + how + " >/dev/null";
  if (std::system(command.c_str()) != 0) throw Failure{"could not crash node " + std::to_string(node) + " (" + command + ")"};
}

struct Built {
  gmm::app::Section primary, secondary;
  char* base;
  char* mirror;
};

// Creates both sections and builds the list: primary at its global
// address, every change copied to the secondary.
Built build(Session& session, std::uint32_t primary_node, std::uint32_t secondary_node, std::uint64_t records) {
  auto me = must(session.whoami(), "whoami");
  must(session.create("list-primary", kSectionSize, {CreateOptions::Where::kNode, primary_node, 0600}),
       "create the primary");
  must(session.create("list-secondary", kSectionSize, {CreateOptions::Where::kNode, secondary_node, 0600}),
       "create the secondary");
  auto primary = must(session.acquire("list-primary", Access::kWrite), "acquire the primary");
  auto secondary = must(session.acquire("list-secondary", Access::kWrite), "acquire the secondary");
  // The list lives at the primary's global address; the secondary is mapped
  // anywhere, only to copy into.
  char* base = static_cast<char*>(must(session.map_global(primary), "map the primary"));
  char* mirror = static_cast<char*>(must(session.reserve(kSectionSize), "reserve"));
  must(session.map(mirror, kSectionSize, secondary), "map the secondary");

  ReplicatedList list(base, mirror);
  list.format();
  for (std::uint64_t i = 1; i <= records; ++i) list.append(i);
  std::printf("node %u: built %llu records at %p (primary on node %u, secondary on node %u)\n", me.node,
              static_cast<unsigned long long>(records), static_cast<void*>(base), primary_node, secondary_node);
  return Built{primary, secondary, base, mirror};
}

// After the promotion: the list must be whole, then it keeps growing.
void prove_and_continue(ReplicatedList& list, std::uint64_t records) {
  std::uint64_t walked = 0;
  if (!list.intact(&walked) || walked != records) {
    throw Failure{"list damaged after promotion: walked " + std::to_string(walked) + " of " +
                  std::to_string(list.header().count) + " records (expected " + std::to_string(records) + ")"};
  }
  std::printf("list intact after promotion: %llu records, checksum %llu, same pointers\n",
              static_cast<unsigned long long>(walked), static_cast<unsigned long long>(list.header().checksum));
  for (std::uint64_t i = records + 1; i <= records + 100; ++i) list.append(i);
  if (!list.intact(&walked)) throw Failure{"list damaged while appending after promotion"};
  std::printf("list intact after 100 more appends: %llu records\n", static_cast<unsigned long long>(walked));
}

int run(std::uint32_t primary_node, std::uint32_t secondary_node, std::uint64_t records, const std::string& crash) {
  Session session = must(Session::connect(), "connect to gmmd");
  auto [primary, secondary, base, mirror] = build(session, primary_node, secondary_node, records);
  ReplicatedList list(base, mirror);
  Header* header = &list.header();  // held across the failure: it must stay valid
  const Record* newest = header->head;

  auto failures = must(session.watch({NodeEvent::Kind::kNodeFailed, NodeEvent::Kind::kMemoryLost}), "watch");
  if (!crash.empty()) crash_node(primary_node, crash);
  for (;;) {
    auto event = must(failures.next(std::chrono::seconds(120)), "wait for the primary's node to fail");
    if (event.node == primary_node) break;
  }
  std::printf("node %u failed: promoting the secondary in place\n", primary_node);

  // Promotion: the secondary replaces the primary under the same addresses.
  must(session.map(base, kSectionSize, secondary), "remap the secondary over the primary's range");
  must(session.unmap(mirror, kSectionSize), "unmap the old mirror");
  must(session.relinquish(primary), "relinquish the primary");
  list.drop_secondary();

  if (header != &list.header() || header->head != newest) throw Failure{"the list moved during the promotion"};
  prove_and_continue(list, records);

  must(session.unmap(base, kSectionSize), "unmap");
  must(session.relinquish(secondary), "relinquish the secondary");
  must(session.destroy("list-primary"), "destroy the primary");
  must(session.destroy("list-secondary"), "destroy the secondary");
  return 0;
}

// Phase 1 (VMs): build and exit; the sections outlive the process.
int setup(std::uint32_t primary_node, std::uint32_t secondary_node, std::uint64_t records) {
  Session session = must(Session::connect(), "connect to gmmd");
  build(session, primary_node, secondary_node, records);
  std::printf("setup done: crash node %u, then run --recover on a survivor\n", primary_node);
  return 0;
}

// Phase 2 (VMs), in a new process on a survivor after the primary's node
// failed: the secondary is mapped where the list was built, so its
// pointers are valid as they are.
int recover(std::uint64_t records) {
  Session session = must(Session::connect(), "connect to gmmd");
  auto me = must(session.whoami(), "whoami");
  auto secondary = must(session.acquire("list-secondary", Access::kWrite), "acquire the secondary");
  char* peek = static_cast<char*>(must(session.reserve(kSectionSize), "reserve"));
  must(session.map(peek, kSectionSize, secondary), "map the secondary");
  const Header found = *reinterpret_cast<const Header*>(peek);
  must(session.unreserve(peek), "unreserve");
  if (found.magic != kMagic) throw Failure{"no list in the secondary (bad magic): was --setup run?"};

  char* base = static_cast<char*>(must(session.reserve(kSectionSize, found.base), "reserve the list's own range"));
  must(session.map(base, kSectionSize, secondary), "map the secondary over the primary's range");
  std::printf("node %u: secondary mapped at %p, where the primary was\n", me.node, static_cast<void*>(base));
  ReplicatedList list(base, nullptr);
  prove_and_continue(list, records);

  must(session.unmap(base, kSectionSize), "unmap");
  must(session.relinquish(secondary), "relinquish the secondary");
  must(session.destroy("list-secondary"), "destroy the secondary");
  if (auto gone = session.destroy("list-primary"); !gone) {
    std::printf("the primary's name is gone with its node: %s\n", gone.error().message.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gmm-replicated-list: a list with a primary and a secondary copy that survives the primary's node"};
  std::uint32_t primary_node = 1, secondary_node = 2;
  std::uint64_t records = 1000;
  std::string crash;
  bool setup_only = false, recover_only = false;
  auto* primary_opt = app.add_option("--primary-on", primary_node, "node holding the primary copy");
  auto* secondary_opt = app.add_option("--secondary-on", secondary_node, "node holding the secondary copy");
  app.add_option("--records", records, "records to build before the failure")->check(CLI::Range(1, 40000));
  auto* crash_opt = app.add_option("--crash-primary", crash, "crash the primary's node through gmm-host: kill or pause")
                        ->check(CLI::IsMember({"kill", "pause"}));
  auto* setup_flag = app.add_flag("--setup", setup_only, "only build the list and exit (then crash P from the host)");
  app.add_flag("--recover", recover_only, "after P failed: promote the secondary in a new process and continue")
      ->excludes(setup_flag, primary_opt, secondary_opt, crash_opt);
  setup_flag->excludes(crash_opt);
  CLI11_PARSE(app, argc, argv);
  if (!recover_only && (primary_opt->count() == 0 || secondary_opt->count() == 0)) {
    std::fprintf(stderr, "gmm-replicated-list: --primary-on and --secondary-on are required (except with --recover)\n");
    return 1;
  }
  try {
    if (setup_only) return setup(primary_node, secondary_node, records);
    if (recover_only) return recover(records);
    return run(primary_node, secondary_node, records, crash);
  } catch (const Failure& failure) {
    std::fprintf(stderr, "gmm-replicated-list: %s\n", failure.message.c_str());
    return 1;
  }
}
