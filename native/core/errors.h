// The engine's one error type: a stable machine-readable code plus a message that names the
// input at fault (file, tensor, option) and what to do. The addon maps it to a JS SftError.
#pragma once
#include <stdexcept>
#include <string>

namespace nq {

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

}  // namespace nq
