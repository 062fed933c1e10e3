// A growable ring buffer (double-ended queue in one array). Unlike std::deque
// it reuses its memory once grown, so steady-state windows never allocate.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

namespace weir::cep {

template <class T>
class Ring {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return cap_; }

  T& operator[](size_t i) { return buf_[(head_ + i) & (cap_ - 1)]; }
  const T& operator[](size_t i) const { return buf_[(head_ + i) & (cap_ - 1)]; }
  T& front() { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& front() const { return (*this)[0]; }
  const T& back() const { return (*this)[size_ - 1]; }

  void push_back(T v) {
    if (size_ == cap_) grow();
    (*this)[size_++] = std::move(v);
  }
  void pop_front() {
    front() = T();
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
  }
  void pop_back() {
    back() = T();
    --size_;
  }
  void clear() {
    while (size_ > 0) pop_back();
    head_ = 0;
  }

 private:
  void grow() {
    size_t cap = cap_ ? cap_ * 2 : 8;
    std::unique_ptr<T[]> buf(new T[cap]);
    for (size_t i = 0; i < size_; ++i) buf[i] = std::move((*this)[i]);
    buf_ = std::move(buf);
    cap_ = cap;
    head_ = 0;
  }

  std::unique_ptr<T[]> buf_;
  size_t cap_ = 0, head_ = 0, size_ = 0;
};

}  // namespace weir::cep
