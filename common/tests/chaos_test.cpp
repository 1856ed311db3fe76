// Chaos: nodes keep allocating, sharing and freeing while random nodes are
// killed or paused and restarted. After each recovery the checker (run
// while the others keep working) must find nothing wrong, and at the end
// every page is free. GMM_CHAOS_INJECTIONS sets the number of faults
// (`make soak` runs thousands).
#include <cstdlib>
#include <random>

#include "cluster_harness.hpp"

using namespace gmm;
using namespace gmm::layout;
using namespace gmm::test;
using namespace std::chrono_literals;

namespace {

void churn(Node& n) {
  std::thread([&n] {
    std::mt19937 rng(n.id() * 7919 + n.incarnation());
    std::vector<Gid> held;
    while (true) {
      const std::string name = "chaos" + std::to_string(rng() % 16);
      switch (rng() % 4) {
        case 0:
          if (auto r = n.allocate(name, 4096 * (1 + rng() % 4), Placement::on(rng() % 4))) held.push_back(r->gid);
          break;
        case 1:
          if (auto r = n.open(name)) held.push_back(r->gid);
          break;
        case 2:
          if (!held.empty()) {
            (void)n.close(held.back());
            held.pop_back();
          }
          break;
        case 3:
          (void)n.free(name);
          break;
      }
      std::this_thread::sleep_for(1ms);
    }
  }).detach();
}

int injections() {
  const char* env = std::getenv("GMM_CHAOS_INJECTIONS");
  return env != nullptr ? std::max(1, std::atoi(env)) : 6;
}

}  // namespace

TEST_CASE_METHOD(Cluster, "chaos: random kills, pauses and restarts while nodes allocate, share and free",
                 "[recovery][chaos]") {
  for (std::uint32_t id = 0; id < 4; ++id) nodes[id] = spawn_node(t, id, churn);
  REQUIRE(wait_until([&] { return all_members(*t.pool, 0b1111); }));
  std::mt19937 rng(2026);
  const int total = injections();
  for (int i = 0; i < total; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 200));
    const std::uint32_t victim = rng() % 4;
    const bool pause = rng() % 3 == 0;
    INFO("injection " << i << ": " << (pause ? "pause" : "kill") << " node " << victim);
    const std::uint64_t before = load_acquire(t.pool->cluster().events);
    if (pause)
      stop_at_next_step(nodes[victim]);  // a paused node, mid-transaction
    else
      nodes[victim].kill(SIGKILL);
    REQUIRE(wait_until([&] {
      const auto r = latest_record(*t.pool, EventKind::kNodeFailed);
      return r.sequence > before && recovered(*t.pool, EventKind::kNodeFailed, victim);
    }));
    REQUIRE_POOL_CLEAN(*t.pool);  // while the survivors keep working
    if (pause) {
      nodes[victim].kill(SIGCONT);  // it must find itself expelled and rejoin
    } else {
      nodes[victim].wait();
      nodes[victim] = spawn_node(t, victim, churn);
    }
    REQUIRE(wait_until([&] { return all_members(*t.pool, 0b1111); }));
  }
  stop_all();
  require_empty(t);
}
