// The agent's one clock. Its poll loop (agent.cpp) takes the earliest
// wake-up of the channel and of every job, so all of them keep time on it.
#pragma once

#include <chrono>

namespace gmm::agent {

using Clock = std::chrono::steady_clock;

}  // namespace gmm::agent
