// libFuzzer target for gmmd's request decoder (proto::decode_request), the
// one place where gmmd reads client input: every line a client sends goes
// through it before anything else (guest/gmmd/handler.cpp).
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
//   - a refused line gets kInvalidArgument and a message of one line of at
//     most kMaxErrorMessage bytes (gmmd logs it and sends it back);
//   - an accepted line re-encodes (encode_request) to a line that decodes
//     to the same request.
// Built with -DGMM_FUZZ=ON by clang (guest/proto/CMakeLists.txt); seeds in
// corpus/, one request per file; request.dict holds the protocol's words.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "proto/proto.hpp"

namespace {

[[noreturn]] void violated(const char* what, std::string_view detail) {
  std::fprintf(stderr, "request_fuzzer: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gmm::proto;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  auto request = decode_request(line);
  if (!request) {
    const gmm::Error& error = request.error();
    if (error.code != gmm::Errc::kInvalidArgument) violated("refusal is not kInvalidArgument", error.message);
    if (error.message.empty() || error.message.size() > kMaxErrorMessage) {
      violated("refusal message empty or too long", error.message);
    }
    for (char c : error.message) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) violated("control character in refusal message", error.message);
    }
    return 0;
  }
  const std::string again = encode_request(*request);
  auto back = decode_request(again);
  if (!back) violated("re-encoded request is refused", back.error().message);
  if (!(*back == *request)) violated("re-encoded request decodes differently", again);
  return 0;
}
