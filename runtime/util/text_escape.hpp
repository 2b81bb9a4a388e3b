// Bytes from a plugin shown to a person or a program: valid UTF-8 passes, the
// rest is escaped so the output stays one line of text.
#pragma once

#include <string>
#include <string_view>

namespace meshrun {

// For a terminal: printable UTF-8 as it is; control characters and bytes
// that are not UTF-8 as \xNN, backslash as \\.
std::string printable(std::string_view bytes);
// A JSON string literal (with its quotes). Bytes that are not UTF-8 become
// \udcNN (Python's surrogateescape: json.loads then
// s.encode("utf-8", "surrogateescape") gives the bytes back exactly).
std::string json_string(std::string_view bytes);

}  // namespace meshrun
