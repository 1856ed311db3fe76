// gmm-window-probe: proves in a real guest that gmm_ivshmem's window device
// confines a process to the windows gmmd gives it (platform/uio/uio_window.*,
// ivshmem-driver/gmm_ivshmem_uapi.h). Static, baked into the image
// (/usr/bin); window-probe.sh boots a guest that runs it as /init's program:
//
//   gmm-window-probe MAGIC
//
// As root it opens windows through UioWindowSource, then hands their
// descriptors over a socket (SCM_RIGHTS, as gmmd does) to a child that has
// dropped to uid/gid 1000. The child maps and uses its windows and is
// refused everything else; it writes MAGIC at the writable window's first
// byte, which root then finds through the whole-BAR UIO mapping (and the
// host in the pool file, at kWritableOffset). One line per check, starting
// "window-probe: ok" or "window-probe: FAIL"; the last line is
// "window-probe: PASS" or "window-probe: FAIL ..."; exit status 0 on PASS.
//
// Then revocation (GMM_WINDOW_REVOKE through UioWindowSource::revoke, as
// gmmd does when a section's memory is lost): a process that touches a
// revoked window's mapping gets SIGBUS, mmap is refused with ENODEV, GET
// shows the window revoked, other windows keep working, and the client
// cannot revoke.
//
// The same boot also checks the driver's heartbeat device (UioHeartbeat,
// /dev/gmm_heartbeat): on a node slot it writes into a fake superblock at
// the start of the pool, the kernel timer beats for the slot's incarnation,
// refuses a stale one, stops when the incarnation changes, when the file
// is closed and when its process is killed.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <chrono>
#include <functional>
#include <thread>

#include "gmm/pool_abi.h"
#include "gmm_ivshmem_uapi.h"
#include "io/unix_socket.hpp"
#include "uio/uio_heartbeat.hpp"
#include "uio/uio_pool.hpp"
#include "uio/uio_window.hpp"

namespace {

using gmm::UniqueFd;

// The windows of this check, in pool bytes (the pool is at least 4 MiB).
constexpr std::uint64_t kWritableOffset = 1 << 20;  // 2 pages, writable, via UioWindowSource
constexpr std::uint64_t kReadOnlyOffset = 2 << 20;  // 1 page, read-only, via UioWindowSource
constexpr std::uint64_t kRawReadOnlyOffset = 3 << 20;  // 1 page, read-only, set on an O_RDWR descriptor
constexpr std::uint64_t kRevokedOffset = (3 << 20) + (1 << 19);  // 2 pages, writable, revoked by root
constexpr std::uint64_t kRevokedPattern = 0x7e70ced07e70ced0ULL;
constexpr std::uint64_t kReadOnlyPattern = 0x5eed5eed5eed5eedULL;
constexpr std::uint8_t kLastBytePattern = 0xa5;
constexpr uid_t kUnprivileged = 1000;

const long kPage = ::sysconf(_SC_PAGESIZE);
int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("window-probe: %s %s\n", ok ? "ok" : "FAIL", what.c_str());
  std::fflush(stdout);
  if (!ok) ++failures;
}

std::string hex(std::uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016" PRIx64, value);
  return text;
}

std::string errno_name(int err) { return err == 0 ? "success" : std::strerror(err); }

// A call that must fail with `want`.
void check_errno(bool failed, int err, int want, const std::string& what) {
  check(failed && err == want, what + " -> " + (failed ? errno_name(err) : "succeeded") + " (want " +
                                   errno_name(want) + ")");
}

void* map(int fd, std::uint64_t length, int prot, int flags, std::uint64_t offset) {
  return ::mmap(nullptr, length, prot, flags, fd, static_cast<off_t>(offset));
}

// mmap that must fail with `want`.
void check_map_refused(int fd, std::uint64_t length, int prot, int flags, std::uint64_t offset, int want,
                       const std::string& what) {
  void* p = map(fd, length, prot, flags, offset);
  const int err = errno;
  check_errno(p == MAP_FAILED, err, want, what);
  if (p != MAP_FAILED) ::munmap(p, length);
}

// The descriptors travel as gmmd's server sends them: one byte with
// SCM_RIGHTS (io/unix_socket.hpp).
void send_fds(int socket, const std::vector<int>& fds) {
  const char byte = 'w';
  check(gmm::send_with_descriptors(socket, {&byte, 1}, fds, 0) == 1,
        "root passes " + std::to_string(fds.size()) + " window descriptors (SCM_RIGHTS)");
}

// `count` descriptors with one byte, or none.
std::vector<UniqueFd> receive_fds(int socket, std::size_t count) {
  char byte = 0;
  std::vector<UniqueFd> fds;
  if (gmm::receive_with_descriptors(socket, {&byte, 1}, fds, 0) != 1 || fds.size() != count) return {};
  return fds;
}

// The unprivileged client: everything it may do works, the rest is refused.
void client(int socket, const std::string& uio_dev, const std::string& sysfs_bar, std::uint64_t magic) {
  bool dropped = ::setgroups(0, nullptr) == 0 && ::setgid(kUnprivileged) == 0 && ::setuid(kUnprivileged) == 0;
  check(dropped && ::getuid() == kUnprivileged && ::geteuid() == kUnprivileged && ::setuid(0) != 0,
        "client runs as uid/gid " + std::to_string(kUnprivileged) + " and cannot become root again");
  if (!dropped) return;

  std::vector<UniqueFd> fds = receive_fds(socket, 3);
  check(fds.size() == 3, "client receives 3 window descriptors");
  if (fds.size() != 3) return;
  const int writable = fds[0].get(), read_only = fds[1].get(), raw_read_only = fds[2].get();
  const std::uint64_t page = static_cast<std::uint64_t>(kPage);

  gmm_window_args args{};
  check(::ioctl(writable, GMM_WINDOW_GET, &args) == 0 && args.offset == kWritableOffset && args.length == 2 * page &&
            args.flags == GMM_WINDOW_WRITABLE,
        "GMM_WINDOW_GET tells the client its window (offset, length, writable)");

  // The writable window: all of it, and a part of it.
  void* whole = map(writable, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
  check(whole != MAP_FAILED, "client maps its writable window read-write (2 pages at file offset 0)");
  if (whole != MAP_FAILED) {
    auto* bytes = static_cast<volatile std::uint8_t*>(whole);
    std::memcpy(whole, &magic, sizeof magic);
    bytes[2 * page - 1] = kLastBytePattern;
    std::uint64_t back = 0;
    std::memcpy(&back, whole, sizeof back);
    check(back == magic, "client writes and reads back the magic at the window's first byte");
    void* second = map(writable, page, PROT_READ, MAP_SHARED, page);
    check(second != MAP_FAILED && static_cast<volatile std::uint8_t*>(second)[page - 1] == kLastBytePattern,
          "client maps only the window's second page (file offset 1 page) and sees its last byte");
    if (second != MAP_FAILED) ::munmap(second, page);
    void* grown = ::mremap(whole, 2 * page, 3 * page, MREMAP_MAYMOVE);
    const int err = errno;
    check_errno(grown == MAP_FAILED, err, EFAULT, "mremap growing the window's mapping to 3 pages");
    ::munmap(whole, 2 * page);
  }
  check_map_refused(writable, 3 * page, PROT_READ, MAP_SHARED, 0, EINVAL, "mmap 3 pages of a 2-page window");
  check_map_refused(writable, page, PROT_READ, MAP_SHARED, 2 * page, EINVAL, "mmap the page after the window");
  check_map_refused(writable, page, PROT_READ, MAP_SHARED, std::uint64_t{1} << 40, EINVAL,
                    "mmap far beyond the window (file offset 1 TiB)");
  check_map_refused(writable, page, PROT_READ, MAP_PRIVATE, 0, EINVAL, "mmap MAP_PRIVATE");

  // The read-only windows.
  void* ro = map(read_only, page, PROT_READ, MAP_SHARED, 0);
  const int ro_err = errno;
  std::uint64_t seen = 0;
  if (ro != MAP_FAILED) std::memcpy(&seen, ro, sizeof seen);
  const std::string found = ro == MAP_FAILED ? std::string("mmap: ") + std::strerror(ro_err) : "found " + hex(seen);
  check(ro != MAP_FAILED && seen == kReadOnlyPattern,
        "client maps its read-only window and reads what root wrote (" + found + ")");
  if (ro != MAP_FAILED) ::munmap(ro, page);
  check_map_refused(read_only, page, PROT_READ | PROT_WRITE, MAP_SHARED, 0, EACCES,
                    "write-map a read-only window (descriptor opened read-only)");
  check_map_refused(raw_read_only, page, PROT_READ | PROT_WRITE, MAP_SHARED, 0, EACCES,
                    "write-map a read-only window (descriptor opened read-write: the driver refuses)");
  void* raw = map(raw_read_only, page, PROT_READ, MAP_SHARED, 0);
  check(raw != MAP_FAILED, "client read-maps the read-only window on the read-write descriptor");
  if (raw != MAP_FAILED) {
    const int rc = ::mprotect(raw, page, PROT_READ | PROT_WRITE);
    const int err = errno;
    check_errno(rc != 0, err, EACCES, "mprotect(PROT_WRITE) of that read-only mapping");
    ::munmap(raw, page);
  }

  // No re-aiming, no new windows, no whole BAR.
  gmm_window_args wider{0, 64 * page, GMM_WINDOW_WRITABLE, 0};
  int rc = ::ioctl(writable, GMM_WINDOW_SET, &wider);
  int err = errno;
  check_errno(rc != 0, err, EPERM, "client re-sets its window to the pool's start");
  rc = ::ioctl(read_only, GMM_WINDOW_SET, &wider);
  err = errno;
  check_errno(rc != 0, err, EPERM, "client re-sets its read-only window");
  rc = ::ioctl(writable, GMM_WINDOW_REVOKE);
  err = errno;
  check_errno(rc != 0, err, EPERM, "client revokes its own window");
  UniqueFd fresh(::open(gmm::kWindowDevice, O_RDWR | O_CLOEXEC));
  check(fresh.valid(), std::string("client opens ") + gmm::kWindowDevice + " (mode 0666)");
  if (fresh) {
    check_map_refused(fresh.get(), page, PROT_READ, MAP_SHARED, 0, ENXIO, "mmap of a fresh, unset window");
    rc = ::ioctl(fresh.get(), GMM_WINDOW_SET, &wider);
    err = errno;
    check_errno(rc != 0, err, EPERM, "client sets a window on its own descriptor");
    rc = ::ioctl(fresh.get(), GMM_WINDOW_REVOKE);
    err = errno;
    check_errno(rc != 0, err, EPERM, "client revokes a window on its own descriptor");
    rc = ::ioctl(fresh.get(), GMM_WINDOW_GET, &args);
    err = errno;
    check_errno(rc != 0, err, ENXIO, "GMM_WINDOW_GET of an unset window");
  }
  for (int flags : {O_RDWR, O_RDONLY}) {
    UniqueFd uio(::open(uio_dev.c_str(), flags | O_CLOEXEC));
    err = errno;
    check_errno(!uio.valid(), err, EACCES,
                "client opens " + uio_dev + (flags == O_RDWR ? " read-write" : " read-only") + " (the whole BAR)");
  }
  // The other ways to the BAR: PCI sysfs and physical memory.
  for (const std::string& path : {sysfs_bar, std::string("/dev/mem")}) {
    UniqueFd other(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    err = errno;
    check_errno(!other.valid(), err, EACCES, "client opens " + path);
  }
}

// The memory types of the PAT list's entries that cover [phys, phys +
// length): x86 gives a page the window device inserts at fault time the
// type of such an entry (the driver reserves all of BAR2 write-back). ""
// without debugfs, "none" if no entry covers the range, the types joined
// with ", " when they differ.
std::string pat_of(std::uint64_t phys, std::uint64_t length) {
  std::ifstream list("/sys/kernel/debug/x86/pat_memtype_list");
  if (!list) return "";
  std::string types, line;
  while (std::getline(list, line)) {
    unsigned long long start = 0, end = 0;
    char type[64];
    if (std::sscanf(line.c_str(), "PAT: [mem 0x%llx-0x%llx] %63[^\n]", &start, &end, type) != 3) continue;
    if (start > phys || end < phys + length) continue;
    if (types.find(type) == std::string::npos) types += (types.empty() ? "" : ", ") + std::string(type);
  }
  return types.empty() ? "none" : types;
}

int fail_early(const std::string& message) {
  check(false, message);
  std::printf("window-probe: FAIL (cannot run)\n");
  return 1;
}

// --------------------------------------------------------- revocation --

// A child process that runs `body` and exits 0 (unless a signal ends it).
pid_t fork_child(const std::function<void()>& body) {
  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child == 0) {
    body();
    ::_exit(0);
  }
  return child;
}

// How `child` ended: "exit N" or the signal's description.
std::string outcome_of(pid_t child) {
  int status = 0;
  if (child < 0 || ::waitpid(child, &status, 0) != child) return "not run";
  if (WIFSIGNALED(status)) return strsignal(WTERMSIG(status));
  return "exit " + std::to_string(WEXITSTATUS(status));
}

// Root revokes a window that it and a child process have mapped and
// touched (gmmd revokes its kept copy of a client's descriptor the same
// way); `neighbour` is another window that must keep working.
void revocation_checks(gmm::WindowSource& windows, std::byte* bar, const gmm::Window& neighbour) {
  const std::uint64_t page = static_cast<std::uint64_t>(kPage);
  const std::string bus = strsignal(SIGBUS);
  auto window = windows.open_window(kRevokedOffset, 2 * page, true);
  check(window.ok() && window->revoker.valid(), "UioWindowSource gives each window a revoker (a copy of its descriptor)" +
                                                    (window ? "" : ": " + window.error().message));
  if (!window || !window->revoker) return;
  auto* bytes = static_cast<volatile std::uint64_t*>(map(window->fd.get(), 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
  check(bytes != MAP_FAILED, "root maps the window to revoke (2 pages, read-write)");
  void* other = map(neighbour.fd.get(), 2 * page, PROT_READ, MAP_SHARED, 0);
  check(other != MAP_FAILED, "root maps another window");
  if (bytes == MAP_FAILED || other == MAP_FAILED) return;
  bytes[0] = kRevokedPattern;
  bytes[page / sizeof(std::uint64_t)] = kRevokedPattern;
  const std::uint64_t other_before = *static_cast<volatile std::uint64_t*>(other);

  // A child holds the mapping (fork copies its page table entries), touches
  // it, and touches it again once the window is revoked.
  int ready[2], go[2];
  if (::pipe(ready) != 0 || ::pipe(go) != 0) return (void)check(false, "pipes for the child");
  const pid_t holder = fork_child([&] {
    char byte = 0;
    if (bytes[0] != kRevokedPattern) ::_exit(5);
    bytes[1] = 1;
    if (::write(ready[1], &byte, 1) != 1 || ::read(go[0], &byte, 1) != 1) ::_exit(6);
    bytes[1] = 2;
  });
  char byte = 0;
  check(::read(ready[0], &byte, 1) == 1, "a child reads and writes the window through the mapping it inherited");

  auto revoked = windows.revoke(window->revoker);
  check(revoked.ok(), "root revokes the window (GMM_WINDOW_REVOKE)" + (revoked ? "" : ": " + revoked.error().message));
  check(::write(go[1], &byte, 1) == 1, "the child is told to write the window again");
  const std::string held = outcome_of(holder);
  check(held == bus, "the child's write after the revocation ends it with " + held + " (want " + bus + ")");
  for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);
  const std::string read_later = outcome_of(fork_child([&] { (void)bytes[page / sizeof(std::uint64_t)]; }));
  check(read_later == bus,
        "a process forked after the revocation reads its inherited mapping: " + read_later + " (want " + bus + ")");

  for (const UniqueFd* fd : {&window->fd, &window->revoker}) {
    check_map_refused(fd->get(), page, PROT_READ, MAP_SHARED, 0, ENODEV,
                      std::string("mmap of the revoked window through ") + (fd == &window->fd ? "the client's" : "gmmd's") +
                          " descriptor");
  }
  gmm_window_args args{};
  const bool got = ::ioctl(window->fd.get(), GMM_WINDOW_GET, &args) == 0;
  check(got && args.offset == kRevokedOffset && args.length == 2 * page &&
            args.flags == (GMM_WINDOW_WRITABLE | GMM_WINDOW_REVOKED),
        "GMM_WINDOW_GET shows the window revoked (flags " + std::to_string(args.flags) + ", want WRITABLE | REVOKED = 3)");
  revoked = windows.revoke(window->revoker);
  check(revoked.ok(), "revoking it again is no error");
  check(*static_cast<volatile std::uint64_t*>(other) == other_before,
        "another window's mapping still reads its bytes (refaulted after the revocation's zap)");
  std::uint64_t kept = 0, kept_second = 0;
  std::memcpy(&kept, bar + kRevokedOffset, sizeof kept);
  std::memcpy(&kept_second, bar + kRevokedOffset + page, sizeof kept_second);
  check(kept == kRevokedPattern && kept_second == kRevokedPattern,
        "the revocation leaves the pool's bytes alone (root's whole-BAR view)");
  ::munmap(const_cast<std::uint64_t*>(bytes), 2 * page);
  ::munmap(other, 2 * page);

  UniqueFd unset(::open(gmm::kWindowDevice, O_RDWR | O_CLOEXEC));
  const int rc = ::ioctl(unset.get(), GMM_WINDOW_REVOKE);
  const int err = errno;
  check_errno(rc != 0, err, ENXIO, "root revokes a window that was never set");
}

// ---------------------------------------------------------- heartbeat --

constexpr std::uint64_t kSlotsOffset = 64 << 10;  // the fake pool's node slots
constexpr std::uint32_t kBeatNode = 2;

template <class T>
volatile T& at(std::byte* bar, std::uint64_t offset) {
  return *reinterpret_cast<volatile T*>(bar + offset);
}

gmm_node_slot* beat_slot(std::byte* bar) {
  return reinterpret_cast<gmm_node_slot*>(bar + kSlotsOffset) + kBeatNode;
}

std::uint64_t heartbeat_of(std::byte* bar) { return __atomic_load_n(&beat_slot(bar)->heartbeat, __ATOMIC_ACQUIRE); }

// Polls `done` every 10 ms for up to 10 s (TCG guests are slow, not stuck).
bool wait_until(const std::function<bool()>& done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// The heartbeat does not move over 100 ms (ten of its periods).
bool stands_still(std::byte* bar) {
  const std::uint64_t before = heartbeat_of(bar);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return heartbeat_of(bar) == before;
}

void heartbeat_checks(std::byte* bar) {
  using std::chrono::milliseconds;
  struct stat st;
  check(::stat(gmm::kHeartbeatDevice, &st) == 0 && S_ISCHR(st.st_mode) && (st.st_mode & 07777) == 0600,
        std::string(gmm::kHeartbeatDevice) + " is a character device, mode 0600");
  auto opened = gmm::UioHeartbeat::open();
  check(opened.ok(), std::string("UioHeartbeat opens ") + gmm::kHeartbeatDevice + (opened ? "" : ": " + opened.error().message));
  if (!opened) return;
  std::unique_ptr<gmm::UioHeartbeat> beat = std::move(*opened);

  // No GMM pool yet: refused.
  at<std::uint64_t>(bar, GMM_SB_MAGIC) = 0;
  auto refused = beat->start(kBeatNode, 7, milliseconds(10));
  check(!refused && refused.error().code == gmm::Errc::kBadPool, "start on an unformatted pool is refused (kBadPool)");
  // A pool of this layout with 4 nodes, node 2 a member, incarnation 7.
  std::memset(bar, 0, kSlotsOffset + 4 * sizeof(gmm_node_slot));
  at<std::uint32_t>(bar, GMM_SB_LAYOUT_VERSION) = GMM_LAYOUT_VERSION + 1;
  at<std::uint32_t>(bar, GMM_SB_NODE_COUNT) = 4;
  at<std::uint64_t>(bar, GMM_SB_NODES_OFFSET) = kSlotsOffset;
  at<std::uint64_t>(bar, GMM_SB_MAGIC) = GMM_POOL_MAGIC;
  refused = beat->start(kBeatNode, 7, milliseconds(10));
  check(!refused && refused.error().code == gmm::Errc::kBadPool, "start on a pool of another layout version is refused (kBadPool)");
  at<std::uint32_t>(bar, GMM_SB_LAYOUT_VERSION) = GMM_LAYOUT_VERSION;
  gmm_node_slot* slot = beat_slot(bar);
  __atomic_store_n(&slot->incarnation, 7u, __ATOMIC_RELEASE);
  __atomic_store_n(&slot->state, GMM_NODE_MEMBER, __ATOMIC_RELEASE);
  refused = beat->start(4, 7, milliseconds(10));
  check(!refused && refused.error().code == gmm::Errc::kInvalidArgument, "start for a node beyond the pool's count is refused");
  refused = beat->start(kBeatNode, 6, milliseconds(10));
  check(!refused && refused.error().code == gmm::Errc::kExpelled, "start for an incarnation the slot does not show is refused (kExpelled)");
  check(stands_still(bar), "nothing beats after refused starts");

  // Beats for incarnation 7.
  auto started = beat->start(kBeatNode, 7, milliseconds(10));
  check(started.ok(), "start for node 2 incarnation 7, every 10 ms" + (started ? "" : ": " + started.error().message));
  const std::uint64_t first = heartbeat_of(bar);
  check(wait_until([&] { return heartbeat_of(bar) >= first + 10; }), "the kernel timer advances the slot's heartbeat");
  check(__atomic_load_n(&slot->heartbeat_ns, __ATOMIC_ACQUIRE) > 1'600'000'000ull * 1'000'000'000ull,
        "and stores heartbeat_ns (CLOCK_REALTIME)");
  auto status = beat->status();
  check(status && status->running && status->node == kBeatNode && status->incarnation == 7 && status->beats >= 10,
        "GMM_HEARTBEAT_STATUS: running for node 2 incarnation 7");
  check(slot->progress == 0 && slot->state == GMM_NODE_MEMBER && slot->incarnation == 7,
        "it writes nothing but heartbeat and heartbeat_ns");

  // The incarnation ends (expelled and rejoined): it stops by itself.
  __atomic_store_n(&slot->incarnation, 8u, __ATOMIC_RELEASE);
  check(wait_until([&] { auto s = beat->status(); return s && !s->running; }) && stands_still(bar),
        "a new incarnation in the slot stops the timer");
  started = beat->start(kBeatNode, 8, milliseconds(10));
  const std::uint64_t again = heartbeat_of(bar);
  check(started.ok() && wait_until([&] { return heartbeat_of(bar) >= again + 3; }), "start again for incarnation 8: it beats");
  __atomic_store_n(&slot->state, GMM_NODE_FAILED, __ATOMIC_RELEASE);
  check(wait_until([&] { auto s = beat->status(); return s && !s->running; }) && stands_still(bar),
        "the slot declared failed stops the timer");
  __atomic_store_n(&slot->state, GMM_NODE_MEMBER, __ATOMIC_RELEASE);

  // The file is closed (gmmd exits): it stops at once.
  started = beat->start(kBeatNode, 8, milliseconds(10));
  check(started.ok() && wait_until([&] { return heartbeat_of(bar) >= again + 10; }), "beating again");
  beat.reset();
  check(stands_still(bar), "closing the file stops the timer");

  // Its process is killed (gmmd killed): the same.
  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child == 0) {
    auto mine = gmm::UioHeartbeat::open();
    if (!mine || !(*mine)->start(kBeatNode, 8, milliseconds(10))) ::_exit(1);
    for (;;) ::pause();
  }
  const std::uint64_t before_child = heartbeat_of(bar);
  check(wait_until([&] { return heartbeat_of(bar) >= before_child + 3; }), "a child process starts it");
  ::kill(child, SIGKILL);
  int child_status = 0;
  ::waitpid(child, &child_status, 0);
  check(WIFSIGNALED(child_status) && stands_still(bar), "killing that process stops the timer");
}

}  // namespace

int main(int argc, char** argv) {
  char* end = nullptr;
  const std::uint64_t magic = argc == 2 ? std::strtoull(argv[1], &end, 0) : 0;
  if (argc != 2 || end == argv[1] || *end != '\0') {
    std::fprintf(stderr, "usage: gmm-window-probe MAGIC   (as root in a guest with gmm_ivshmem)\n");
    return 2;
  }
  if (::geteuid() != 0) return fail_early("must start as root (it sets windows, then drops to uid 1000)");
  const std::uint64_t page = static_cast<std::uint64_t>(kPage);

  auto pool = gmm::UioPool::open_default();
  if (!pool) return fail_early(pool.error().message);
  gmm::UioPool& whole_bar = **pool;
  const std::string uio_dev = whole_bar.device().dev_path;
  const std::uint64_t bar_phys = whole_bar.device().maps[1].addr + whole_bar.device().maps[1].offset;
  if (whole_bar.size() < 4 * kWritableOffset) return fail_early("pool smaller than 4 MiB");

  struct stat st;
  check(::stat(uio_dev.c_str(), &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_uid == 0,
        uio_dev + " is root-only (0600, owner root)");
  check(::stat(gmm::kWindowDevice, &st) == 0 && S_ISCHR(st.st_mode) && (st.st_mode & 07777) == 0666,
        std::string(gmm::kWindowDevice) + " is a character device, mode 0666");

  auto source = gmm::open_uio_window_source();
  if (!source) return fail_early(source.error().message);
  gmm::WindowSource& windows = **source;

  auto writable = windows.open_window(kWritableOffset, 2 * page, true);
  check(writable.ok() && writable->mmap_offset == 0 && writable->length == 2 * page && writable->writable,
        "UioWindowSource opens a writable 2-page window at pool offset 1 MiB" +
            (writable ? "" : ": " + writable.error().message));
  auto read_only = windows.open_window(kReadOnlyOffset, page, false);
  check(read_only.ok() && !read_only->writable,
        "UioWindowSource opens a read-only 1-page window at pool offset 2 MiB" +
            (read_only ? "" : ": " + read_only.error().message));
  if (!writable || !read_only) return fail_early("no windows");

  // Refusals that reach root too.
  for (auto [offset, length, what] : {std::tuple{kWritableOffset + 1, page, "an unaligned offset"},
                                      std::tuple{kWritableOffset, page / 2, "an unaligned length"},
                                      std::tuple{kWritableOffset, std::uint64_t{0}, "an empty window"},
                                      std::tuple{whole_bar.size(), page, "a window after the pool"},
                                      std::tuple{whole_bar.size() - page, 2 * page, "a window across the pool's end"}}) {
    auto refused = windows.open_window(offset, length, true);
    check(!refused && refused.error().code == gmm::Errc::kInvalidArgument,
          std::string("UioWindowSource refuses ") + what + " (kInvalidArgument)" +
              (refused ? "" : ": " + refused.error().message));
  }
  gmm_window_args again{0, page, GMM_WINDOW_WRITABLE, 0};
  int rc = ::ioctl(writable->fd.get(), GMM_WINDOW_SET, &again);
  int err = errno;
  check_errno(rc != 0, err, EBUSY, "root re-sets a window that is set");
  {
    UniqueFd ro_fd(::open(gmm::kWindowDevice, O_RDONLY | O_CLOEXEC));
    rc = ::ioctl(ro_fd.get(), GMM_WINDOW_SET, &again);
    err = errno;
    check_errno(rc != 0, err, EBADF, "root sets a writable window on a read-only descriptor");
  }
  UniqueFd raw_read_only(::open(gmm::kWindowDevice, O_RDWR | O_CLOEXEC));
  gmm_window_args raw_args{kRawReadOnlyOffset, page, 0, 0};
  check(raw_read_only && ::ioctl(raw_read_only.get(), GMM_WINDOW_SET, &raw_args) == 0,
        "root sets a read-only window on a read-write descriptor (pool offset 3 MiB)");

  // Root's view of the pool before the client runs.
  std::byte* bar = whole_bar.base();
  std::memcpy(bar + kReadOnlyOffset, &kReadOnlyPattern, sizeof kReadOnlyPattern);
  std::memset(bar + kWritableOffset, 0, 2 * page);
  bar[kWritableOffset - 1] = std::byte{0x11};
  bar[kWritableOffset + 2 * page] = std::byte{0x22};

  // The window is cached like UIO map 1.
  const std::string pat = pat_of(bar_phys + kWritableOffset, 2 * page);
  if (pat.empty()) {
    std::printf("window-probe: (no PAT list in debugfs: cache mode not checked)\n");
  } else {
    check(pat == "write-back", "the PAT entries covering the window are " + pat + " (want write-back)");
  }

  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) return fail_early("socketpair");
  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(sockets[0]);
    failures = 0;
    client(sockets[1], uio_dev, whole_bar.device().sysfs_dir + "/device/resource2", magic);
    std::fflush(stdout);
    ::_exit(failures == 0 ? 0 : 1);
  }
  ::close(sockets[1]);
  send_fds(sockets[0], {writable->fd.get(), read_only->fd.get(), raw_read_only.get()});
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(sockets[0]);
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the unprivileged client's checks all passed");

  std::uint64_t seen = 0;
  std::memcpy(&seen, bar + kWritableOffset, sizeof seen);
  check(seen == magic, "root sees the client's magic " + hex(magic) + " at pool offset 1 MiB (found " + hex(seen) + ")");
  check(bar[kWritableOffset + 2 * page - 1] == std::byte{kLastBytePattern}, "root sees the client's last window byte");
  check(bar[kWritableOffset - 1] == std::byte{0x11} && bar[kWritableOffset + 2 * page] == std::byte{0x22},
        "the bytes around the window are untouched");

  revocation_checks(windows, bar, *writable);
  heartbeat_checks(bar);

  if (failures == 0) {
    std::printf("window-probe: PASS\n");
  } else {
    std::printf("window-probe: FAIL (%d checks failed)\n", failures);
  }
  return failures == 0 ? 0 : 1;
}
