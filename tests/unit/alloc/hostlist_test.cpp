#include <catch2/catch.hpp>

#include <unistd.h>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "alloc/hostlist.hpp"

using meshrun::expand_hostlist;
using meshrun::expand_tasks_per_node;
using meshrun::HostEntry;
using meshrun::parse_host_list;
using meshrun::parse_hostfile;
using meshrun::parse_hostfile_text;
using Names = std::vector<std::string>;

namespace {

std::string error_of(const meshrun::Result<Names>& r) {
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

std::string names(const std::vector<HostEntry>& hosts) {
  std::string out;
  for (const auto& h : hosts) {
    out += (out.empty() ? "" : " ") + (h.user.empty() ? "" : h.user + "@") + h.name;
    if (h.slots) out += ":" + std::to_string(h.slots);
  }
  return out;
}

}  // namespace

TEST_CASE("expand_hostlist keeps zero padding and splits on top-level commas") {
  auto r = expand_hostlist("node[01-04,07],gpu-a[1-2]");
  REQUIRE(r.ok());
  CHECK(*r == Names{"node01", "node02", "node03", "node04", "node07", "gpu-a1", "gpu-a2"});
}

TEST_CASE("expand_hostlist passes plain names through") {
  auto r = expand_hostlist("login, node7,10.0.0.3");
  REQUIRE(r.ok());
  CHECK(*r == Names{"login", "node7", "10.0.0.3"});
}

TEST_CASE("expand_hostlist crosses several bracket groups in one name") {
  auto r = expand_hostlist("r[1-2]n[08-10]");
  REQUIRE(r.ok());
  CHECK(*r == Names{"r1n08", "r1n09", "r1n10", "r2n08", "r2n09", "r2n10"});
}

TEST_CASE("expand_hostlist grows numbers past the padding width") {
  auto r = expand_hostlist("n[8-10],m[098-100]");
  REQUIRE(r.ok());
  CHECK(*r == Names{"n8", "n9", "n10", "m098", "m099", "m100"});
}

TEST_CASE("expand_hostlist rejects malformed lists, saying where") {
  CHECK_THAT(error_of(expand_hostlist("node[1-4")),
             Catch::Contains("'[' is never closed at column 5"));
  CHECK_THAT(error_of(expand_hostlist("node1-4]")),
             Catch::Contains("']' without a matching '[' at column 8"));
  CHECK_THAT(error_of(expand_hostlist("node[[1]]")),
             Catch::Contains("'[' inside a bracket group at column 6"));
  CHECK_THAT(error_of(expand_hostlist("node[]")), Catch::Contains("empty bracket group"));
  CHECK_THAT(error_of(expand_hostlist("node[1,,3]")), Catch::Contains("empty range"));
  CHECK_THAT(error_of(expand_hostlist("node[1-]")), Catch::Contains("missing a number"));
  CHECK_THAT(error_of(expand_hostlist("node[4-1]")), Catch::Contains("goes down"));
  CHECK_THAT(error_of(expand_hostlist("node[a-c]")), Catch::Contains("must be digits"));
  CHECK_THAT(error_of(expand_hostlist("node[1-2x]")), Catch::Contains("must be digits"));
  CHECK_THAT(error_of(expand_hostlist("a,,b")), Catch::Contains("empty host name at column 3"));
  CHECK_THAT(error_of(expand_hostlist("a b")), Catch::Contains("unexpected character ' '"));
  CHECK_THAT(error_of(expand_hostlist("")), Catch::Contains("empty hostlist"));
}

TEST_CASE("expand_hostlist refuses too many hosts before building them") {
  const auto start = std::chrono::steady_clock::now();
  CHECK_THAT(error_of(expand_hostlist("n[1-1000000]")),
             Catch::Contains("1000000 hosts, more than the limit of 65536"));
  // 10^18 names: only possible to answer quickly if nothing is materialised.
  CHECK_THAT(error_of(expand_hostlist("n[1-999999]m[1-999999]k[1-999999]")),
             Catch::Contains("more than the limit"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK_THAT(error_of(expand_hostlist("a[1-3],b[1-3]", 5)),
             Catch::Contains("6 hosts, more than the limit of 5"));
  CHECK(expand_hostlist("a[1-3],b[1-2]", 5).ok());
}

TEST_CASE("parse_host_list reads users, slots and ranges") {
  auto r = parse_host_list("alice@gpu[1-2]:8,node[01-02],bob@login");
  REQUIRE(r.ok());
  CHECK(names(*r) == "alice@gpu1:8 alice@gpu2:8 node01 node02 bob@login");
  auto one = parse_host_list("localhost:3");
  REQUIRE(one.ok());
  REQUIRE(one->size() == 1);
  CHECK(one->front().name == "localhost");
  CHECK(one->front().slots == 3);
  CHECK(one->front().user.empty());
}

TEST_CASE("parse_host_list rejects bad entries") {
  const auto err = [](std::string_view text, size_t max = 65536) {
    auto r = parse_host_list(text, max);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK_THAT(err("node1:0"), Catch::Contains("slots \"0\" must be a whole number >= 1"));
  CHECK_THAT(err("node1:x"), Catch::Contains("slots \"x\""));
  CHECK_THAT(err("@node1"), Catch::Contains("empty user name"));
  CHECK_THAT(err("alice@:4"), Catch::Contains("empty host name"));
  CHECK_THAT(err("a,,b"), Catch::Contains("empty host entry"));
  CHECK_THAT(err("node[1-3"), Catch::Contains("never closed"));
  CHECK_THAT(err("n[1-1000000]"), Catch::Contains("more than the limit of 65536"));
  CHECK_THAT(err("a[1-2],alice@b[1-2]:2", 3), Catch::Contains("4 hosts, more than the limit of 3"));
  CHECK(parse_host_list("a[1-2],b", 3).ok());
  CHECK_THAT(err(""), Catch::Contains("empty host list"));
}

TEST_CASE("parse_hostfile_text reads every line form and skips comments") {
  const std::string text =
      "# cluster\n"
      "\n"
      "node01 slots=4\n"
      "node02:2   # trailing comment\n"
      "  alice@gpu[1-2]\n"
      "login\n";
  auto r = parse_hostfile_text(text, "hosts.txt");
  REQUIRE(r.ok());
  CHECK(names(*r) == "node01:4 node02:2 alice@gpu1 alice@gpu2 login");
}

TEST_CASE("parse_hostfile_text errors name the source and line") {
  const auto err = [](std::string_view text) {
    auto r = parse_hostfile_text(text, "hosts.txt");
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK_THAT(err("a\n# x\nb slots=0\n"),
             Catch::StartsWith("hosts.txt:3: ") && Catch::Contains("slots must be a whole number"));
  CHECK_THAT(err("a\nb cpus=4\n"), Catch::StartsWith("hosts.txt:2: unknown field \"cpus=4\""));
  CHECK_THAT(err("b:2 slots=4\n"), Catch::StartsWith("hosts.txt:1: slots given twice"));
  CHECK_THAT(err("\n\nn[3-1]\n"),
             Catch::StartsWith("hosts.txt:3: ") && Catch::Contains("goes down"));
}

TEST_CASE("parse_hostfile reads a file and reports a missing one") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("meshrun-hostlist-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "hosts";
  std::ofstream(file) << "n[1-2] slots=2\n";
  auto r = parse_hostfile(file.string());
  std::filesystem::remove_all(dir);
  REQUIRE(r.ok());
  CHECK(names(*r) == "n1:2 n2:2");

  auto missing = parse_hostfile((dir / "nope").string());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == meshrun::Errc::not_found);
  CHECK_THAT(missing.error().message, Catch::Contains("nope"));
}

TEST_CASE("expand_tasks_per_node repeats counts") {
  auto r = expand_tasks_per_node("4(x2),2");
  REQUIRE(r.ok());
  CHECK(*r == std::vector<uint32_t>{4, 4, 2});
  auto single = expand_tasks_per_node("16");
  REQUIRE(single.ok());
  CHECK(*single == std::vector<uint32_t>{16});
}

TEST_CASE("expand_tasks_per_node rejects malformed and oversized input") {
  const auto err = [](std::string_view text, size_t max = 65536) {
    auto r = expand_tasks_per_node(text, max);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
  };
  CHECK_THAT(err("4(x0)"), Catch::Contains("must be N or N(xM)"));
  CHECK_THAT(err("4(2)"), Catch::Contains("must be N or N(xM)"));
  CHECK_THAT(err("4(x2"), Catch::Contains("must be N or N(xM)"));
  CHECK_THAT(err("x,2"), Catch::Contains("\"x\" is not a task count"));
  CHECK_THAT(err("4,,2"), Catch::Contains("is not a task count"));
  CHECK_THAT(err(""), Catch::Contains("empty"));
  CHECK_THAT(err("1(x1000000000000)"), Catch::Contains("more than 65536 nodes"));
  CHECK_THAT(err("1(x3),2", 3), Catch::Contains("more than 3 nodes"));
}
