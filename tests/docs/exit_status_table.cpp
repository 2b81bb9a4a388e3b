// Prints meshrun's exit status table (runtime/util/exit_status.hpp) as
// "STATUS|MEANING" lines, for the docs test to hold the documents to.
#include <cstdio>

#include "util/exit_status.hpp"

int main() {
  for (const auto& row : meshrun::exit_status::kTable)
    std::printf("%.*s|%.*s\n", static_cast<int>(row.status.size()), row.status.data(),
                static_cast<int>(row.meaning.size()), row.meaning.data());
}
