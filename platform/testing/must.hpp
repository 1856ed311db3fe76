// For probe programs that stop at their first failed step (gmm-vm-probe,
// gmm-app-probe): a step gives its value or throws Failure with a one-line
// reason, which main() prints. Header-only, only result.hpp: any probe may
// include it, static ones too.
#pragma once

#include <string>
#include <utility>

#include "gmm/result.hpp"

namespace gmm::test {

struct Failure {
  std::string message;
};

// The value of `result`; otherwise Failure "what: <the error's message>".
template <class T>
T must(Result<T> result, const std::string& what) {
  if (!result) throw Failure{what + ": " + result.error().message};
  return std::move(*result);
}
inline void must(const Status& status, const std::string& what) {
  if (!status) throw Failure{what + ": " + status.error().message};
}

// Failure `what` unless `condition` holds.
inline void expect(bool condition, const std::string& what) {
  if (!condition) throw Failure{what};
}

}  // namespace gmm::test
