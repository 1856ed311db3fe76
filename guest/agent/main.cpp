// gmm-agent: runs commands for the host over the guest's control channel
// (a virtio console port, no guest networking needed). See README.md.
//
//   gmm-agent [-v] [DEVICE]     DEVICE defaults to /dev/hvc0
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "agent.hpp"

constexpr const char* kUsage =
    "usage: gmm-agent [-v] [DEVICE]   (default /dev/hvc0)\n"
    "Serves JSON lines on DEVICE: {\"id\":N,\"argv\":[...]} runs a command, {\"id\":N,\"ping\":true} pongs.\n"
    "-v logs each command to stderr.\n";

int main(int argc, char** argv) {
  std::string device = "/dev/hvc0";
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-v" || arg == "--verbose") {
      verbose = true;
    } else if (arg == "-h" || arg == "--help") {
      std::printf("%s", kUsage);
      return 0;
    } else if (arg.starts_with("-")) {
      std::fprintf(stderr, "%s", kUsage);
      return 2;
    } else {
      device = arg;
    }
  }
  // children must not inherit a closed 0/1/2 that a pipe could then take
  int fd;
  while ((fd = ::open("/dev/null", O_RDWR)) >= 0 && fd <= 2) {
  }
  if (fd > 2) ::close(fd);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  std::fprintf(stderr, "gmm-agent: serving %s\n", device.c_str());
  std::string error = gmm::agent::Agent(device, verbose).run();
  std::fprintf(stderr, "gmm-agent: %s\n", error.c_str());
  return 1;
}
