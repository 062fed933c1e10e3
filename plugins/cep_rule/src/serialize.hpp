// Binary encoding of engine state for snapshot()/restore() (hot swap).
// Little-endian fixed-width integers; a Reader throws on truncated input.
#pragma once

#include "value.hpp"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace weir::cep {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(uint8_t x) { out_.push_back(static_cast<char>(x)); }
  void i64(int64_t x) { raw(&x, sizeof x); }
  void u64(uint64_t x) { raw(&x, sizeof x); }
  void f64(double x) { raw(&x, sizeof x); }
  void str(std::string_view s) {
    u64(s.size());
    out_.append(s.data(), s.size());
  }
  void value(const Value& v) {
    u8(static_cast<uint8_t>(v.type()));
    switch (v.type()) {
      case Type::Null: break;
      case Type::Bool: u8(v.as_bool()); break;
      case Type::Long: i64(v.as_long()); break;
      case Type::Double: f64(v.as_double()); break;
      case Type::String: str(v.as_string()); break;
    }
  }

 private:
  void raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return pos_ == in_.size(); }
  uint8_t u8() {
    need(1);
    return static_cast<uint8_t>(in_[pos_++]);
  }
  int64_t i64() { return get<int64_t>(); }
  uint64_t u64() { return get<uint64_t>(); }
  double f64() { return get<double>(); }
  std::string str() {
    uint64_t n = u64();
    need(n);
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  Value value() {
    switch (static_cast<Type>(u8())) {
      case Type::Null: return {};
      case Type::Bool: return Value::of_bool(u8() != 0);
      case Type::Long: return Value::of_long(i64());
      case Type::Double: return Value::of_double(f64());
      case Type::String: return Value::of_string(str());
    }
    throw std::runtime_error("cep_rule state: bad value tag");
  }

 private:
  void need(uint64_t n) const {
    if (n > in_.size() - pos_) throw std::runtime_error("cep_rule state: truncated");
  }
  template <class T>
  T get() {
    need(sizeof(T));
    T x;
    std::memcpy(&x, in_.data() + pos_, sizeof x);
    pos_ += sizeof x;
    return x;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace weir::cep
