// Errors in a rule (the user's input): always located, `file:line:col: message`.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace weir::cep {

struct Pos {
  uint32_t line = 1;  // 1-based
  uint32_t col = 1;   // 1-based, in bytes
};

class EplError : public std::runtime_error {
 public:
  EplError(const std::string& file, Pos pos, const std::string& message)
      : std::runtime_error(file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.col) + ": " + message),
        file_(file), pos_(pos), message_(message) {}
  const std::string& file() const { return file_; }
  Pos pos() const { return pos_; }
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  Pos pos_;
  std::string message_;
};

}  // namespace weir::cep
