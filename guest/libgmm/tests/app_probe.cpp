// gmm-app-probe: libgmm inside guests, one phase per invocation, so a
// scenario (scenarios/vm-libgmm.yaml) runs the phases on different guests:
//
//   build --records N   create section "guest-list" (on node 2, mode 0600),
//                       acquire it for writing, map it at its global
//                       address, build a linked list with direct pointers;
//                       create mutex "guest-mutex" and auto-reset event
//                       "guest-event", set the event and exit holding the
//                       mutex (abandoned by the process's exit)
//   walk --expect-count N [--append K] [--sync]
//                       acquire for reading, map at the global address (the
//                       same one the builder used), walk the pointers
//                       (in a guest the read-only window refuses a
//                       writable mmap); then re-acquire for writing and
//                       append K records.
//                       --sync: the event is signaled once (auto-reset) and
//                       the mutex is reported abandoned, then locks normally
//   hold                (started in the background) lock "guest-mutex",
//                       set manual-reset event "guest-held", wait for
//                       "guest-release", unlock
//   contend             on another guest, once "guest-held" is set: the
//                       mutex is busy (a lock with a short timeout times
//                       out), then set "guest-release" and lock: acquired,
//                       not abandoned
//   revoked --section NAME
//                       (started in the background) acquire NAME for
//                       writing, map it, print "holding NAME"; when the
//                       memory-lost event for its home node comes, gmmd
//                       must have revoked the handle already (whoami counts
//                       none, relinquish says "was revoked") and revoked
//                       its window: a touch of the mapping is SIGBUS (in a
//                       child), a new mmap fails with ENODEV
//                       (docs/design.md, "Revocation at the client")
//   deny --as-uid UID   drop to UID/GID first; everything of root's is
//                       refused with a clear error, the process's own
//                       section works, and its window reaches that section
//                       only (never the whole BAR)
//
// Exit 0 with a final "... passed" line; 1 with a one-line reason.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <CLI/CLI.hpp>

#include "gmm/app.hpp"
#include "gmm/unique_fd.hpp"
#include "gmm_ivshmem_uapi.h"
#include "testing/must.hpp"

namespace {

using gmm::Errc;
using gmm::app::Access;
using gmm::app::CreateOptions;
using gmm::app::Section;
using gmm::app::Session;
using gmm::app::Wait;
using gmm::test::expect;
using gmm::test::Failure;
using gmm::test::must;
using namespace std::chrono_literals;

constexpr std::uint64_t kSectionSize = 256 * 1024;
constexpr std::uint64_t kMagic = 0x6B63656863747367ULL;  // "gstcheck"
constexpr const char* kList = "guest-list";
constexpr const char* kMutex = "guest-mutex";
constexpr const char* kEvent = "guest-event";
constexpr const char* kHeld = "guest-held";
constexpr const char* kRelease = "guest-release";

struct Record {
  Record* next;  // a direct pointer: valid only at the section's global address
  std::uint64_t value;
};

struct Header {
  std::uint64_t magic;
  Header* self;  // where the builder mapped the section
  Record* head;
  std::uint64_t count;
  std::uint64_t checksum;
  std::uint64_t used;
};

// The call must fail with `code`; prints the error the application sees.
template <class T>
void refused(const T& result, Errc code, const std::string& what) {
  if (result) throw Failure{what + " was allowed"};
  if (result.error().code != code) throw Failure{what + " failed, but not as expected: " + result.error().message};
  std::printf("refused as expected: %s: %s\n", what.c_str(), result.error().message.c_str());
}

void append(Header& h, std::uint64_t value) {
  expect(h.used + sizeof(Record) <= kSectionSize, "the list's section is full");
  auto* record = reinterpret_cast<Record*>(reinterpret_cast<char*>(&h) + h.used);
  *record = Record{h.head, value};
  h.head = record;
  h.count += 1;
  h.checksum += value;
  h.used += sizeof(Record);
}

void check_list(const Header& h, std::uint64_t expected) {
  expect(h.magic == kMagic, "no list in the section (bad magic)");
  std::uint64_t count = 0, sum = 0;
  for (const Record* r = h.head; r != nullptr && count <= h.count; r = r->next) {
    ++count;
    sum += r->value;
  }
  expect(count == h.count && sum == h.checksum,
         "list damaged: walked " + std::to_string(count) + " of " + std::to_string(h.count) + " records");
  expect(count == expected, "list has " + std::to_string(count) + " records, expected " + std::to_string(expected));
}

std::string hex(const void* p) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", p);
  return text;
}

int hold() {
  Session session = must(Session::connect(), "connect to gmmd");
  expect(must(session.lock_mutex(kMutex, 30s), "lock") == Wait::kAcquired, "the mutex was not free");
  must(session.set_event(kHeld), "set " + std::string(kHeld));
  expect(must(session.wait_event(kRelease, 120s), "wait for the release") == Wait::kAcquired, "never released");
  must(session.unlock_mutex(kMutex), "unlock");
  std::printf("hold passed\n");
  return 0;
}

// No timing assumption: the holder unlocks only after we set kRelease.
int contend() {
  Session session = must(Session::connect(), "connect to gmmd");
  auto me = must(session.whoami(), "whoami");
  expect(must(session.wait_event(kHeld, 60s), "wait until the holder has the mutex") == Wait::kAcquired,
         "the holder never took the mutex (is `hold` running on another node?)");
  expect(must(session.lock_mutex(kMutex, 300ms), "lock while held") == Wait::kTimeout,
         "the mutex was not busy while another guest's process held it");
  must(session.set_event(kRelease), "release the holder");
  expect(must(session.lock_mutex(kMutex, 60s), "lock after the release") == Wait::kAcquired,
         "the released mutex was not simply acquired");
  must(session.unlock_mutex(kMutex), "unlock");
  std::printf("node %u: the mutex was busy while held on another guest, then acquired after its release\n", me.node);
  std::printf("contend passed\n");
  return 0;
}

// The window descriptor libgmm holds for an acquired section: the one fd of
// this process open on the window device.
int window_descriptor() {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    if (std::filesystem::read_symlink(entry.path(), error) == "/dev/gmm_window") {
      return std::stoi(entry.path().filename().string());
    }
  }
  return -1;
}

int build(std::uint64_t records) {
  Session session = must(Session::connect(), "connect to gmmd");
  auto me = must(session.whoami(), "whoami");
  must(session.create(kList, kSectionSize, {CreateOptions::Where::kNode, 2, 0600}), "create " + std::string(kList));
  Section list = must(session.acquire(kList, Access::kWrite), "acquire for writing");
  expect(list.writable, "a write acquisition gave a read-only window");
  void* base = must(session.map_global(list), "map at the global address");
  expect(reinterpret_cast<std::uint64_t>(base) == list.global_address, "map_global did not map at the global address");
  auto* h = static_cast<Header*>(base);
  *h = Header{kMagic, h, nullptr, 0, 0, sizeof(Header)};
  for (std::uint64_t i = 1; i <= records; ++i) append(*h, i);
  check_list(*h, records);
  refused(session.relinquish(list), Errc::kBusy, "relinquish while mapped");
  must(session.unmap(base, kSectionSize), "unmap");
  must(session.relinquish(list), "relinquish");
  must(session.unreserve(base), "unreserve");

  must(session.create_mutex(kMutex), "create the mutex");
  must(session.create_event(kEvent, false, false), "create the event");
  expect(must(session.lock_mutex(kMutex, 5s), "lock") == Wait::kAcquired, "the new mutex was not free");
  must(session.unlock_mutex(kMutex), "unlock");
  expect(must(session.lock_mutex(kMutex, 5s), "lock again") == Wait::kAcquired, "the mutex was not free again");
  must(session.set_event(kEvent), "set the event");
  must(session.create_event(kHeld, true, false), "create the held event");
  must(session.create_event(kRelease, true, false), "create the release event");
  std::printf("node %u: built %llu records at %s; exiting holding %s\n", me.node,
              static_cast<unsigned long long>(records), hex(base).c_str(), kMutex);
  std::printf("build passed\n");
  return 0;  // the mutex stays locked: gmmd marks it abandoned when we hang up
}

int walk(std::uint64_t expected, std::uint64_t appends, bool sync) {
  Session session = must(Session::connect(), "connect to gmmd");
  auto me = must(session.whoami(), "whoami");
  Section list = must(session.acquire(kList, Access::kRead), "acquire for reading");
  expect(!list.writable, "a read acquisition gave a writable window");
  void* base = must(session.map_global(list), "map at the global address");
  auto* h = static_cast<Header*>(base);
  expect(h->self == h, "the builder mapped the section at " + hex(h->self) + ", this node at " + hex(h));
  check_list(*h, expected);
  std::printf("node %u: walked %llu records at %s (same address as the builder's)\n", me.node,
              static_cast<unsigned long long>(expected), hex(base).c_str());
  refused(session.acquire(kList, Access::kWrite), Errc::kAlreadyOpen, "acquire twice");
  if (int fd = window_descriptor(); fd >= 0) {  // in a guest; process mode hands out the pool file
    void* writable = ::mmap(nullptr, kSectionSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    expect(writable == MAP_FAILED, "a read-only window maps writable");
    std::printf("refused as expected: a writable mapping of the read-only window: %s\n", std::strerror(errno));
  }
  must(session.unmap(base, kSectionSize), "unmap");
  must(session.relinquish(list), "relinquish");

  if (appends > 0) {
    Section writable = must(session.acquire(kList, Access::kWrite), "acquire for writing");
    must(session.map(base, kSectionSize, writable), "map into the kept reservation");
    for (std::uint64_t i = 1; i <= appends; ++i) append(*h, expected + i);
    check_list(*h, expected + appends);
    must(session.unmap(base, kSectionSize), "unmap");
    must(session.relinquish(writable), "relinquish");
    std::printf("node %u: appended %llu records\n", me.node, static_cast<unsigned long long>(appends));
  }
  must(session.unreserve(base), "unreserve");

  if (sync) {
    expect(must(session.wait_event(kEvent, 10s), "wait for the event") == Wait::kAcquired, "the event was not set");
    expect(must(session.wait_event(kEvent, 300ms), "wait again") == Wait::kTimeout,
           "the auto-reset event stayed signaled");
    expect(must(session.lock_mutex(kMutex, 10s), "lock") == Wait::kAbandoned,
           "the builder exited holding the mutex, but it was not reported abandoned");
    must(session.unlock_mutex(kMutex), "unlock");
    expect(must(session.lock_mutex(kMutex, 5s), "lock again") == Wait::kAcquired, "the mutex stayed abandoned");
    must(session.unlock_mutex(kMutex), "unlock again");
    std::printf("node %u: event signaled once (auto-reset), mutex abandoned by the builder, then free\n", me.node);
  }
  std::printf("walk passed\n");
  return 0;
}

int deny(std::uint32_t uid) {
  if (::setgroups(0, nullptr) != 0 || ::setgid(uid) != 0 || ::setuid(uid) != 0) {
    throw Failure{"cannot drop to uid " + std::to_string(uid) + ": " + std::strerror(errno) + " (run as root)"};
  }
  Session session = must(Session::connect(), "connect to gmmd");
  auto me = must(session.whoami(), "whoami");
  expect(me.uid == uid && me.gid == uid, "gmmd sees uid " + std::to_string(me.uid) + ", expected " + std::to_string(uid));
  refused(session.acquire(kList, Access::kRead), Errc::kPermission, "read root's section");
  refused(session.acquire(kList, Access::kWrite), Errc::kPermission, "write root's section");
  refused(session.lock_mutex(kMutex, 1s), Errc::kPermission, "lock root's mutex");
  refused(session.set_event(kEvent), Errc::kPermission, "set root's event");
  refused(session.destroy(kList), Errc::kPermission, "destroy root's section");

  // Its own section works...
  const std::string mine = "user-" + std::to_string(::getpid());
  must(session.create(mine, 64 * 1024, {CreateOptions::Where::kLocal, 0, 0600}), "create own section");
  Section own = must(session.acquire(mine, Access::kWrite), "acquire own section");
  auto* bytes = static_cast<char*>(must(session.map_global(own), "map own section"));
  std::memcpy(bytes, "mine", 5);
  expect(std::strcmp(bytes, "mine") == 0, "own section did not keep what was written");

  // ...through a window onto exactly that section.
  int fd = window_descriptor();
  expect(fd >= 0, "no /dev/gmm_window descriptor in this process: was the window handed out by another device?");
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* beyond = ::mmap(nullptr, own.size + page, PROT_READ, MAP_SHARED, fd, 0);
  expect(beyond == MAP_FAILED, "the window maps past its section");
  beyond = ::mmap(nullptr, page, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(own.size));
  expect(beyond == MAP_FAILED, "the window maps the page after its section");
  int pool_device = ::open("/dev/uio0", O_RDWR | O_CLOEXEC);
  expect(pool_device < 0, "uid " + std::to_string(uid) + " can open the pool device /dev/uio0");
  // Anyone may open the window device (0666), but an unaimed window maps
  // nothing and only CAP_SYS_ADMIN (gmmd) can aim one.
  gmm::UniqueFd unaimed(::open("/dev/gmm_window", O_RDWR | O_CLOEXEC));
  expect(static_cast<bool>(unaimed), std::string("cannot open /dev/gmm_window: ") + std::strerror(errno));
  expect(::mmap(nullptr, page, PROT_READ, MAP_SHARED, unaimed.get(), 0) == MAP_FAILED, "an unaimed window maps");
  gmm_window_args args{};
  args.offset = 0;
  args.length = page;
  expect(::ioctl(unaimed.get(), GMM_WINDOW_SET, &args) != 0 && errno == EPERM,
         "uid " + std::to_string(uid) + " could aim a window at the pool's tables");
  std::printf("node %u: uid %u reaches only its own %llu-byte window; it can neither open the pool device nor aim a window\n", me.node, uid,
              static_cast<unsigned long long>(own.size));

  must(session.unmap(bytes, own.size), "unmap own section");
  must(session.relinquish(own), "relinquish own section");
  must(session.destroy(mine), "destroy own section");
  std::printf("deny passed\n");
  return 0;
}

int revoked(const std::string& name) {
  Session session = must(Session::connect(), "connect to gmmd");
  auto losses = must(session.watch({gmm::app::NodeEvent::Kind::kMemoryLost}), "watch memory-lost events");
  Section section = must(session.acquire(name, Access::kWrite), "acquire " + name);
  void* view = must(session.map_global(section), "map " + name);
  std::printf("holding %s (homed on node %u)\n", name.c_str(), section.home_node);
  std::fflush(stdout);
  auto event = must(losses.next(600s), "wait for the memory-lost event");
  expect(event.node == section.home_node, "memory-lost event for node " + std::to_string(event.node) +
                                              ", not for the section's node " + std::to_string(section.home_node));
  expect(must(session.whoami(), "whoami").handles == 0, "gmmd still counts the handle of the lost section");
  // The window is revoked too: a child that reads the mapping dies of SIGBUS.
  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child == 0) {
    (void)*static_cast<volatile char*>(view);
    ::_exit(0);
  }
  int status = 0;
  expect(::waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
         "a read of the revoked window's mapping did not raise SIGBUS");
  const int fd = window_descriptor();
  expect(fd >= 0, "no /dev/gmm_window descriptor in this process");
  gmm_window_args args{};
  expect(::ioctl(fd, GMM_WINDOW_GET, &args) == 0 && (args.flags & GMM_WINDOW_REVOKED) != 0,
         "GMM_WINDOW_GET does not show the window revoked");
  expect(::mmap(nullptr, section.size, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == ENODEV,
         "a new mmap of the revoked window did not fail with ENODEV");
  std::printf("window revoked: a read of the mapping raises SIGBUS, mmap fails with ENODEV\n");
  must(session.unmap(view, section.size), "unmap");
  auto gone = session.relinquish(section);
  refused(gone, Errc::kNotFound, "relinquish of the revoked section");
  expect(gone.error().message.find("was revoked") != std::string::npos, "the refusal does not say it was revoked");
  std::printf("revoked passed\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gmm-app-probe: libgmm calls inside a guest, one phase per run (scenarios/vm-libgmm.yaml)"};
  app.require_subcommand(1);
  std::uint64_t records = 1000, expected = 0, appends = 0;
  std::uint32_t uid = 1000;
  bool sync = false;
  auto* build_cmd = app.add_subcommand("build", "build the list, create the mutex and the event");
  build_cmd->add_option("--records", records)->check(CLI::Range(1, 10000));
  auto* walk_cmd = app.add_subcommand("walk", "walk the list at the same address, append, check mutex and event");
  walk_cmd->add_option("--expect-count", expected)->required();
  walk_cmd->add_option("--append", appends)->check(CLI::Range(0, 1000));
  walk_cmd->add_flag("--sync", sync, "check the event and the abandoned mutex");
  auto* hold_cmd = app.add_subcommand("hold", "hold the mutex until another guest's contend releases it");
  auto* contend_cmd = app.add_subcommand("contend", "find the mutex busy, release the holder, lock it");
  std::string section_name;
  auto* revoked_cmd = app.add_subcommand("revoked", "hold a section until its memory is lost: gmmd revokes the handle");
  revoked_cmd->add_option("--section", section_name)->required();
  auto* deny_cmd = app.add_subcommand("deny", "as an unprivileged user: refusals and a confined window");
  deny_cmd->add_option("--as-uid", uid)->check(CLI::Range(1, 65534));
  CLI11_PARSE(app, argc, argv);
  try {
    if (*build_cmd) return build(records);
    if (*walk_cmd) return walk(expected, appends, sync);
    if (*hold_cmd) return hold();
    if (*contend_cmd) return contend();
    if (*revoked_cmd) return revoked(section_name);
    return deny(uid);
  } catch (const Failure& failure) {
    std::fprintf(stderr, "gmm-app-probe: %s\n", failure.message.c_str());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "gmm-app-probe: %s\n", error.what());
    return 1;
  }
}
