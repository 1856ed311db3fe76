// gmm-share-probe: a dynamically linked C++ program (libstdc++, libgcc_s,
// libm, libc) that the VM scenarios run from the build directory's 9p share
// (/gmm/bin in a guest), to show that a program built on the host runs in a
// guest without rebuilding the image: the image carries the C++ runtime
// (guest/image/build-image.sh). Prints what it ran on and exits 0.
#include <sys/utsname.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

int main() {
  utsname system{};
  ::uname(&system);
  unsigned sum = 0;
  std::thread worker([&sum] {
    for (unsigned i = 1; i <= 100; ++i) sum += i;
  });
  worker.join();
  const char* socket = std::getenv("GMM_SOCKET");
  const bool gmmd = socket != nullptr && std::filesystem::exists(socket);
  std::cout << "gmm-share-probe: dynamically linked C++ runs on " << system.nodename << " (" << system.release
            << "), thread sum " << sum << ", gmmd socket " << (gmmd ? socket : std::string("absent")) << "\n";
  return sum == 5050 ? 0 : 1;
}
