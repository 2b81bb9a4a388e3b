// Little-endian encoding of message fields. Each message lists its fields in
// one `fields(f)` function (CAF's inspect idea); Writer and Reader are the two
// inspectors, so the wire format of a message is visible in one place.
#pragma once

#include <concepts>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace meshrun {

inline constexpr uint32_t kMaxFieldBytes = 64u << 20;
inline constexpr uint32_t kMaxElements = 1u << 24;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  template <class... Ts>
  bool operator()(const Ts&... values) {
    (put(values), ...);
    return true;
  }

  template <std::integral T>
  void put(T v) {
    using U = std::make_unsigned_t<T>;
    auto u = static_cast<U>(v);
    char b[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i)
      b[i] = static_cast<char>(u >> (8 * i));
    out_.append(b, sizeof(T));
  }
  template <class E>
  requires std::is_enum_v<E>
  void put(E v) { put(static_cast<std::underlying_type_t<E>>(v)); }
  void put(bool v) { put(static_cast<uint8_t>(v ? 1 : 0)); }
  void put(const std::string& s) {
    put(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  template <class T>
  void put(const std::vector<T>& v) {
    put(static_cast<uint32_t>(v.size()));
    for (const auto& x : v)
      put(x);
  }
  template <class T>
  requires requires(T& t, Writer& w) { t.fields(w); }
  void put(const T& v) {
    const_cast<T&>(v).fields(*this);  // fields() is shared with Reader, so not const
  }

 private:
  std::string& out_;
};

// Reads fields in order; any short read or over-limit length sets the error
// and every later read is a no-op, so a decoder checks once at the end.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  template <class... Ts>
  bool operator()(Ts&... values) {
    (get(values), ...);
    return ok_;
  }

  template <std::integral T>
  void get(T& v) {
    if (!take(sizeof(T))) {
      v = T{};
      return;
    }
    using U = std::make_unsigned_t<T>;
    U u = 0;
    for (size_t i = 0; i < sizeof(T); ++i)
      u |= static_cast<U>(static_cast<U>(static_cast<unsigned char>(in_[pos_ - sizeof(T) + i]))
                          << (8 * i));
    v = static_cast<T>(u);
  }
  template <class E>
  requires std::is_enum_v<E>
  void get(E& v) {
    std::underlying_type_t<E> u{};
    get(u);
    v = static_cast<E>(u);
  }
  void get(bool& v) {
    uint8_t b = 0;
    get(b);
    if (b > 1) ok_ = false;
    v = b != 0;
  }
  void get(std::string& s) {
    uint32_t n = 0;
    get(n);
    if (n > kMaxFieldBytes || !take(n)) {
      ok_ = false;
      return;
    }
    s.assign(in_.data() + pos_ - n, n);
  }
  template <class T>
  void get(std::vector<T>& v) {
    uint32_t n = 0;
    get(n);
    // Each element takes at least one byte, so a count beyond the bytes left is a lie.
    if (!ok_ || n > kMaxElements || n > in_.size() - pos_) {
      ok_ = false;
      return;
    }
    v.clear();
    v.resize(n);
    for (auto& x : v) {
      get(x);
      if (!ok_) return;
    }
  }
  template <class T>
  requires requires(T& t, Reader& r) { t.fields(r); }
  void get(T& v) { v.fields(*this); }

  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }
  std::string_view rest() const { return in_.substr(pos_); }

 private:
  bool take(size_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace meshrun
