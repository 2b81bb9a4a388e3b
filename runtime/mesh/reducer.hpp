// Built-in reducers: how the replies of a call fold on their way back. Host
// agents fold their procs' replies into one partial, first-level hosts fold
// their children's, and the caller merges what arrives: partials merge in
// any order. Numbers are decimal text ("42", "-1.5"), as a TOML spec writes
// them; the SDK gives them types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/mesh_ref.hpp"
#include "util/result.hpp"

namespace meshrun {

// "sum" -> ReducerKind::sum; nullopt for a name that is not a reducer.
std::optional<ReducerKind> reducer_from_name(std::string_view name);
std::string_view reducer_name(ReducerKind kind);
// "sum, min, max, count, concat, all_equal", for error messages.
std::string_view reducer_names();

class Fold {
 public:
  explicit Fold(ReducerKind kind);

  // One rank's reply. An error when it does not fit (sum of a non-number, an
  // overflow); the caller then counts that rank as failed.
  Status add(uint32_t rank, std::string_view reply);
  // A partial of another hop, as encode() made it.
  Status merge(std::string_view partial);
  std::string encode() const;
  // The folded value. all_equal fails when two replies differ, naming both.
  Result<std::string> result() const;

  ReducerKind kind() const { return kind_; }
  uint32_t count() const { return count_; }
  bool empty() const { return count_ == 0; }

 private:
  struct Number {
    bool is_float = false;
    int64_t i = 0;
    double d = 0;
    double as_double() const { return is_float ? d : static_cast<double>(i); }
  };
  static Result<Number> parse_number(std::string_view text);
  static std::string format(const Number& n);
  Status add_number(const Number& n);

  ReducerKind kind_;
  uint32_t count_ = 0;
  std::optional<Number> number_;  // sum, min, max
  // concat: every (rank, value), ordered by rank at the end. all_equal:
  // each distinct value with the lowest rank that replied it (a few kept).
  std::vector<std::pair<uint32_t, std::string>> parts_;
  void add_distinct(uint32_t rank, std::string_view value);
};

}  // namespace meshrun
