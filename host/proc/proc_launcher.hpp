// Process mode: every node is a gmmd process on this host, all mapping the
// same pool file under /dev/shm, ringing each other through the doorbell
// server (--doorbell DIR/nodeK.ivshmem).
//
//   kill, fence     SIGKILL of the node's gmmd (by pidfd); fence does not
//                   stop the node's clients (programs run with `exec`),
//                   which map the pool too: process mode cannot tell them
//   pause, resume   SIGSTOP, SIGCONT
//   start           a new gmmd on the same socket, log appended
//   stop            SIGTERM (gmmd leaves cleanly), SIGKILL after 5 s
//   exec            gmm-host becomes the command, GMM_* set for the node
//   watch           a pidfd per gmmd: exits only (a SIGSTOP of a process
//                   that is not our child shows only by polling /proc)
//   panic, nmi,     unsupported: a node has no kernel, CPUs or console of
//   console         its own
#pragma once

#include <memory>

#include "launcher/launcher.hpp"

namespace gmm::host {

std::unique_ptr<Launcher> make_proc_launcher();

}  // namespace gmm::host
