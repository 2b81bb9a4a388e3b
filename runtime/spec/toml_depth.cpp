#include "spec/toml_depth.hpp"

#include <vector>

namespace meshrun {
namespace {

std::string_view triple(char quote) {
  return quote == '"' ? "\"\"\"" : "\'\'\'";
}

class DepthScanner {
 public:
  DepthScanner(std::string_view text, size_t limit) : s_(text), limit_(limit) {}

  std::optional<TomlDepth> run() {
    while (i_ < s_.size() && !found_) {
      const char c = s_[i_];
      if (c == '\n') {
        newline();
      } else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n')
          ++i_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++i_;
      } else if (in_key_) {
        key_char(c);
      } else {
        value_char(c);
      }
    }
    return found_;
  }

 private:
  struct Frame {
    char open;     // '{' or '['
    size_t outer;  // the depth of the value this container is
    size_t inner;  // where its keys start ('{') or the depth of its elements ('[')
  };

  void check(size_t depth) {
    if (depth > limit_ && !found_) found_ = TomlDepth{depth, line_};
  }

  void newline() {
    ++line_;
    ++i_;
    if (stack_.empty()) start_statement();
  }

  void start_statement() {
    in_key_ = true;
    key_seen_ = false;
    base_ = header_;
    parts_ = 1;
  }

  // A quoted key or string on one line; i_ is on the opening quote.
  void skip_quoted(char quote) {
    ++i_;
    while (i_ < s_.size() && s_[i_] != '\n') {
      if (quote == '"' && s_[i_] == '\\') {
        i_ += 2;
        continue;
      }
      if (s_[i_++] == quote) return;
    }
  }

  // """...""" or '''...''', which may span lines; i_ is on the first quote.
  void skip_multiline(char quote) {
    i_ += 3;
    while (i_ < s_.size()) {
      if (s_[i_] == '\n') ++line_;
      if (quote == '"' && s_[i_] == '\\') {
        if (i_ + 1 < s_.size() && s_[i_ + 1] == '\n') ++line_;
        i_ += 2;
        continue;
      }
      if (s_.compare(i_, 3, triple(quote)) == 0) {
        i_ += 3;
        // Up to two more quotes belong to the string's content.
        for (int extra = 0; extra < 2 && i_ < s_.size() && s_[i_] == quote; ++extra)
          ++i_;
        return;
      }
      ++i_;
    }
  }

  void skip_string() {
    const char q = s_[i_];
    if (s_.compare(i_, 3, triple(q)) == 0)
      skip_multiline(q);
    else
      skip_quoted(q);
  }

  // [a.b.c] or [[a.b.c]]: the header's parts are the depth of what follows.
  void header() {
    size_t parts = 1;
    ++i_;
    if (i_ < s_.size() && s_[i_] == '[') ++i_;
    while (i_ < s_.size() && s_[i_] != '\n' && s_[i_] != ']') {
      const char c = s_[i_];
      if (c == '"' || c == '\'') {
        skip_quoted(c);
        continue;
      }
      if (c == '.') check(++parts);
      ++i_;
    }
    header_ = parts;
    // The rest of the line is the closing brackets and perhaps a comment.
    while (i_ < s_.size() && s_[i_] != '\n' && s_[i_] != '#')
      ++i_;
    start_statement();
  }

  void key_char(char c) {
    if (c == '[' && stack_.empty() && !key_seen_) {
      header();
      return;
    }
    if (c == '}' && !stack_.empty()) {  // an empty inline table, or a trailing comma
      close();
      return;
    }
    key_seen_ = true;
    if (c == '"' || c == '\'') {
      skip_quoted(c);
      return;
    }
    if (c == '.') {
      check(base_ + ++parts_);
    } else if (c == '=') {
      value_depth_ = base_ + parts_;
      check(value_depth_);
      in_key_ = false;
    }
    ++i_;
  }

  void value_char(char c) {
    if (c == '"' || c == '\'') {
      skip_string();
      return;
    }
    ++i_;
    if (c == '{' || c == '[') {
      const Frame f{c, value_depth_, c == '[' ? value_depth_ + 1 : value_depth_};
      check(f.inner);
      if (found_) return;
      stack_.push_back(f);
      value_depth_ = f.inner;
      if (c == '{') {
        in_key_ = true;
        key_seen_ = false;
        base_ = f.inner;
        parts_ = 1;
      }
    } else if (c == '}' || c == ']') {
      --i_;
      close();
    } else if (c == ',' && !stack_.empty()) {
      const Frame& f = stack_.back();
      value_depth_ = f.inner;
      if (f.open == '{') {
        in_key_ = true;
        key_seen_ = false;
        base_ = f.inner;
        parts_ = 1;
      }
    }
  }

  void close() {
    ++i_;
    if (stack_.empty()) return;  // unbalanced: toml++ says where
    value_depth_ = stack_.back().outer;
    stack_.pop_back();
    in_key_ = false;  // what follows a closed container is part of a value
  }

  std::string_view s_;
  size_t limit_;
  size_t i_ = 0;
  uint32_t line_ = 1;
  size_t header_ = 0;
  bool in_key_ = true;
  bool key_seen_ = false;
  size_t base_ = 0;
  size_t parts_ = 1;
  size_t value_depth_ = 0;
  std::vector<Frame> stack_;
  std::optional<TomlDepth> found_;
};

}  // namespace

std::optional<TomlDepth> find_toml_too_deep(std::string_view text, size_t limit) {
  return DepthScanner(text, limit).run();
}

}  // namespace meshrun
