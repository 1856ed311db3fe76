// Every crash point: a node process dies there (SIGKILL, mid-update, maybe
// holding a global lock), the node restarts with the same id, resolves what
// its previous incarnation left, and the pool is consistent with no page
// leaked. (Recovery by *other* nodes builds on the same code.)
#include <sys/wait.h>
#include <set>
#include <unistd.h>

#include "gmm/crash.hpp"
#include "sync_steps.hpp"
#include "pool_fixture.hpp"

using namespace gmm;
using gmm::test::TempPool;

namespace {

// The victim's work: reaches every crash point at least once.
void victim_sequence(Node& n) {
  auto a = n.allocate("victim-a", 3 * 4096, Placement::on(2));  // alloc.*
  (void)n.open("pre");                                             // open.*
  (void)n.close("pre");                                            // close.* (not last)
  if (a) (void)n.close(a->gid);                                    // close.* (last: frees)
  (void)n.allocate("victim-b", 4096, Placement::local());
  (void)n.free("victim-b");                                        // unlink.*, close.* last
  gmm::test::run_sync_steps(n);                                    // sync.*, mutex.*
}

int run_victim(const std::string& path, CrashPoint point) {
  auto mapping = map_pool_file(path);
  if (!mapping) return 3;
  auto pool = Pool::attach(*mapping.value());
  if (!pool) return 4;
  Node n(pool.value(), 1);
  if (!n.join()) return 5;
  crash_arm(point);
  victim_sequence(n);
  return 0;  // the point was never reached
}

}  // namespace

TEST_CASE("crash points: a node killed at any step restarts into a consistent pool", "[crash]") {
  for (const CrashPointInfo& info : crash_points()) {
    // A coordinator's steps revoking a departed node's memory: recovery_test
    // runs them ("a coordinator that fails at any step of a leave's revocation").
    if (info.name.starts_with("leave.")) continue;
    DYNAMIC_SECTION("crash at " << info.name) {
      TempPool t(64ull << 20, Geometry{.node_count = 4}, "crash");
      auto n0 = t.node(0);
      REQUIRE(n0->allocate("pre", 4096, Placement::on(3)).ok());
      const auto free_before = n0->stat();

      pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) ::_exit(run_victim(t.path, info.point));
      int status = 0;
      REQUIRE(::waitpid(pid, &status, 0) == pid);
      INFO("victim exit status " << status);
      REQUIRE(WIFSIGNALED(status));
      CHECK(WTERMSIG(status) == SIGKILL);

      // Restart node 1: resolves its old transactions and abandoned locks.
      auto restarted = t.node(1);
      REQUIRE_POOL_CLEAN(*t.pool);
      // The survivors' view works: node 0 still reads its section.
      CHECK(n0->describe(n0->lookup_name("pre").value()).ok());
      // Whatever survived the crash can be released; then nothing is leaked.
      for (const SectionInfo& s : restarted->list())
        if (restarted->holds(s.gid, 0)) REQUIRE(restarted->close(s.gid).ok());
      REQUIRE(n0->free("pre").ok());
      for (const auto& st : n0->stat()) {
        INFO("node " << st.node);
        CHECK(st.free_bytes == st.data_bytes);
      }
      CHECK(n0->list().empty());
      REQUIRE_POOL_CLEAN(*t.pool);
      (void)free_before;
    }
  }
}

TEST_CASE("crash points: every point is listed once with a description", "[crash]") {
  std::set<std::string_view> names;
  for (const auto& p : crash_points()) {
    CHECK(names.insert(p.name).second);
    CHECK_FALSE(p.description.empty());
    CHECK(crash_point_by_name(p.name) == p.point);
  }
  CHECK(crash_arm_from_spec("alloc.begun:2").ok());
  crash_disarm();
  CHECK(crash_arm_from_spec("no.such.point").error().code == Errc::kInvalidArgument);
  CHECK(crash_arm_from_spec("alloc.begun:x").error().code == Errc::kInvalidArgument);
}

TEST_CASE("crash points: a spec names a point, then optionally a count and an action", "[core]") {
  for (const char* good : {"alloc.begun", "alloc.begun:3", "alloc.begun:stop", "alloc.begun:2:hang", "alloc.begun:kill:2"}) {
    INFO(good);
    CHECK(crash_arm_from_spec(good).ok());
  }
  for (const char* bad : {"nope", "alloc.begun:0", "alloc.begun:sleep", "alloc.begun:2:3", "alloc.begun:stop:hang",
                          "alloc.begun:", "alloc.begun:-1"}) {
    INFO(bad);
    auto armed = crash_arm_from_spec(bad);
    REQUIRE_FALSE(armed.ok());
    CHECK(armed.error().code == Errc::kInvalidArgument);
  }
  crash_disarm();
}
