// Errors as values on the message path: a Result<T> holds a T or an Error.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace meshrun {

enum class Errc {
  ok = 0,
  invalid_argument,  // bad input from a user (flags, TOML)
  protocol,          // bytes on a socket that break the protocol
  auth,              // peer failed authentication
  io,                // a system call failed
  timeout,           // a deadline passed
  closed,            // the peer went away
  not_found,         // a file, symbol, type or actor that does not exist
  plugin,            // a plugin refused or failed
  spawn,             // a process could not be started
  failed,            // a proc or actor failed
  forbidden,         // a call this caller may not make (an actor asking for a controller's)
};

struct Error {
  Errc code = Errc::failed;
  std::string message;
};

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace meshrun
