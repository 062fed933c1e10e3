// A dynamically typed EPL value in 16 bytes: null, boolean, long, double or
// string. Strings of up to 14 bytes live inline (car numbers, 14-digit dates,
// short codes), so the hot path of the smart-car rule never allocates for a
// value; longer strings share one reference-counted heap buffer.
//
// The engine is single-threaded (one plugin instance = one thread), so the
// reference count is a plain integer.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>
#include <string_view>

namespace weir::cep {

// Static (compile-time) types of expressions and stream properties.
// Null is the type of the `null` literal: compatible with everything.
enum class Type : uint8_t { Null, Bool, Long, Double, String };

const char* type_name(Type t);
inline bool is_numeric(Type t) { return t == Type::Long || t == Type::Double || t == Type::Null; }

class Value {
 public:
  Value() noexcept { raw_[0] = static_cast<char>(Tag::Null); }
  Value(const Value& o) noexcept { copy_from(o); }
  Value(Value&& o) noexcept {
    std::memcpy(raw_, o.raw_, sizeof raw_);
    o.raw_[0] = static_cast<char>(Tag::Null);
  }
  Value& operator=(const Value& o) noexcept {
    if (this != &o) {
      release();
      copy_from(o);
    }
    return *this;
  }
  Value& operator=(Value&& o) noexcept {
    if (this != &o) {
      release();
      std::memcpy(raw_, o.raw_, sizeof raw_);
      o.raw_[0] = static_cast<char>(Tag::Null);
    }
    return *this;
  }
  ~Value() { release(); }
  // Writes an event's window row: to[i] = from[fields[i]] for its n slots (a
  // negative field: a slot filled otherwise, left as it is), to slots known
  // to hold no heap string (the stale values of a new row, see
  // EventStore::push_back), without looking at what they hold: writing a row
  // the cache does not have then does not wait for it to be read first
  // (operator= reads the old tag to release it). True if any value is a heap
  // string. (A tight loop: stage runs it for every event.)
  static bool gather(Value* to, const Value* from, const int* fields, size_t n) noexcept {
    bool heap = false;
    for (size_t i = 0; i < n; ++i) {
      int f = fields[i];
      if (f < 0) continue;
      const Value& v = from[f];
      std::memcpy(to[i].raw_, v.raw_, sizeof raw_);
      if (v.tag() == Tag::HeapString) {
        ++v.get<Heap*>()->refs;
        heap = true;
      }
    }
    return heap;
  }

  static Value of_bool(bool b) { Value v; v.set_bool(b); return v; }
  static Value of_long(int64_t i) { Value v; v.set_long(i); return v; }
  static Value of_double(double d) { Value v; v.set_double(d); return v; }
  static Value of_string(std::string_view s) { Value v; v.set_string(s); return v; }

  // The same values, written in place (to_row fills a row slot per field so).
  // Assigning a temporary costs more than the copy: the temporary is stored in
  // pieces (tag, length, bytes) and read back as 16 bytes at once, which the
  // CPU cannot forward from its store buffer, and it waits for the stores to
  // land (perf: half of to_row's time went to that wait).
  void set_bool(bool b) { clear_as(Tag::Bool); raw_[8] = b ? 1 : 0; }
  void set_long(int64_t i) { clear_as(Tag::Long); put(i); }
  void set_double(double d) { clear_as(Tag::Double); put(d); }
  void set_string(std::string_view s);

  Type type() const {
    switch (tag()) {
      case Tag::Null: return Type::Null;
      case Tag::Bool: return Type::Bool;
      case Tag::Long: return Type::Long;
      case Tag::Double: return Type::Double;
      default: return Type::String;
    }
  }
  bool is_null() const { return tag() == Tag::Null; }
  bool on_heap() const { return tag() == Tag::HeapString; }
  bool as_bool() const { return raw_[8] != 0; }
  int64_t as_long() const { return get<int64_t>(); }
  // Numeric value as a double (long or double).
  double as_double() const { return tag() == Tag::Long ? static_cast<double>(get<int64_t>()) : get<double>(); }
  std::string_view as_string() const;

  bool operator==(const Value& o) const {
    // Inline strings are zero-padded, so two of them are equal iff their raw bytes are.
    if (tag() == Tag::SmallString && o.tag() == Tag::SmallString) return std::memcmp(raw_, o.raw_, sizeof raw_) == 0;
    return equals_slow(o);
  }
  bool operator!=(const Value& o) const { return !(*this == o); }
  uint64_t hash() const {
    if (tag() == Tag::SmallString) {
      uint64_t a, b;
      std::memcpy(&a, raw_, 8);
      std::memcpy(&b, raw_ + 8, 8);
      uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;
      return h ^ (h >> 32);
    }
    return hash_slow();
  }
  // Back to null, keeping the storage (cheaper than assigning Value()).
  void reset() {
    release();
    raw_[0] = static_cast<char>(Tag::Null);
  }

 private:
  enum class Tag : uint8_t { Null, Bool, Long, Double, SmallString, HeapString };
  struct Heap {
    uint32_t refs;
    uint32_t size;
    char data[1];
  };
  static constexpr size_t kInline = 14;

  Tag tag() const { return static_cast<Tag>(raw_[0]); }
  void set_tag(Tag t) { raw_[0] = static_cast<char>(t); }
  // Zero bytes but the tag: inline strings compare and hash by all 16 bytes.
  void clear_as(Tag t) {
    release();
    std::memset(raw_, 0, sizeof raw_);
    set_tag(t);
  }
  template <class T>
  void put(T x) { std::memcpy(raw_ + 8, &x, sizeof x); }
  template <class T>
  T get() const { T x; std::memcpy(&x, raw_ + 8, sizeof x); return x; }
  void copy_from(const Value& o) {
    std::memcpy(raw_, o.raw_, sizeof raw_);
    if (tag() == Tag::HeapString) ++get<Heap*>()->refs;
  }
  bool equals_slow(const Value& o) const;
  uint64_t hash_slow() const;
  void release() {
    if (tag() == Tag::HeapString) {
      Heap* h = get<Heap*>();
      if (--h->refs == 0) ::operator delete(h);
    }
  }

  // [0] tag, [1] inline length, [2..15] inline bytes; or [8..15] the payload.
  alignas(8) char raw_[16] = {};
};

// Java's Double.equals: NaN equals NaN, -0.0 differs from 0.0 (Esper's `=`
// on doubles and its double group keys).
bool java_double_equals(double a, double b);
// Java's Double.compare: -0.0 < 0.0, NaN above everything (min/max).
int java_double_compare(double a, double b);
// Java's String.compareTo on the UTF-8 texts: by UTF-16 code units, so
// U+E000..U+FFFF sort above the supplementary characters. <0, 0, >0.
int utf16_compare(std::string_view a, std::string_view b);

// Java's Double.toString (cast(x, string), literal column names): the
// shortest digits that read back as d, plain between 10^-3 and 10^7, else
// as 1.0E10 / 1.5E-5.
std::string java_double_string(double d);
std::string java_float_string(float f);

// Esper's rendering of a value (the conformance README's table).
std::string format_value(const Value& v);
// Doubles: exact value rounded to 9 significant digits, plain notation (README).
std::string format_double(double d);

// Hash of a key of several values (window keys, table keys).
struct ValuesHash {
  size_t operator()(const std::vector<Value>& k) const {
    uint64_t h = 0x84222325cbf29ce4ULL;
    for (const Value& x : k) h = (h ^ x.hash()) * 0x100000001b3ULL;
    return static_cast<size_t>(h);
  }
};

}  // namespace weir::cep
