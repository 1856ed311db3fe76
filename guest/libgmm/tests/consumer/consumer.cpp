// Connects to $GMM_SOCKET and prints who gmmd thinks we are.
#include <cstdio>

#include <gmm/app.hpp>

int main() {
  auto session = gmm::app::Session::connect();
  if (!session) {
    std::fprintf(stderr, "consumer: %s\n", session.error().message.c_str());
    return 1;
  }
  auto me = session->whoami();
  if (!me) return 1;
  std::printf("client %llu on node %u\n", static_cast<unsigned long long>(me->client), me->node);
  return 0;
}
