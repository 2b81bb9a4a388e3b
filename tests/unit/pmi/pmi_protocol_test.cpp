#include <catch2/catch.hpp>
#include <string>

#include "pmi/local_pmi_job.hpp"
#include "pmi/pmi_protocol.hpp"

using namespace meshrun;

TEST_CASE("parse_pmi_line reads the command and its arguments in order", "[pmi][protocol]") {
  auto cmd = parse_pmi_line("cmd=put kvsname=kvs_1 key=P0-businesscard value=port#41401$ip=1");
  REQUIRE(cmd.ok());
  CHECK(cmd->name == "put");
  CHECK_FALSE(cmd->multi);
  REQUIRE(cmd->args.size() == 3);
  CHECK(cmd->args[0].first == "kvsname");
  CHECK(*cmd->find("key") == "P0-businesscard");
  // A value runs to the next space and keeps any '=' of its own.
  CHECK(*cmd->find("value") == "port#41401$ip=1");
  CHECK(cmd->find("missing") == nullptr);
}

TEST_CASE("parse_pmi_line accepts extra spaces, empty values and bare commands",
          "[pmi][protocol]") {
  auto cmd = parse_pmi_line("  cmd=get_maxes   ");
  REQUIRE(cmd.ok());
  CHECK(cmd->name == "get_maxes");
  CHECK(cmd->args.empty());

  auto put = parse_pmi_line("cmd=put key=k value=");
  REQUIRE(put.ok());
  CHECK(put->find("value")->empty());

  auto multi = parse_pmi_line("mcmd=spawn");
  REQUIRE(multi.ok());
  CHECK(multi->multi);
  CHECK(multi->name == "spawn");
}

TEST_CASE("parse_pmi_line rejects malformed lines with a reason", "[pmi][protocol]") {
  auto bad = [](std::string line) {
    auto r = parse_pmi_line(line);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::protocol);
    return r.error().message;
  };
  CHECK(bad("").find("empty") != std::string::npos);
  CHECK(bad("   ").find("empty") != std::string::npos);
  CHECK(bad("key=1 cmd=get").find("cmd=") != std::string::npos);
  CHECK(bad("cmd=put key").find("without '='") != std::string::npos);
  CHECK(bad("cmd=put =v").find("empty key") != std::string::npos);
  CHECK(bad("cmd= key=v").find("empty command") != std::string::npos);
  CHECK(bad("cmd=put key=a key=b").find("duplicate") != std::string::npos);
  CHECK(bad("cmd=put key=a cmd=get").find("duplicate") != std::string::npos);
  CHECK(bad(std::string("cmd=put key=a\0b", 15)).find("control") != std::string::npos);
  CHECK(bad("cmd=get\tkey=a").find("control") != std::string::npos);
  CHECK(bad("000056cmd=fullinit;pmi_version=2;").find("PMI-2") != std::string::npos);
}

TEST_CASE("parse_pmi_line bounds the line length", "[pmi][protocol]") {
  std::string prefix = "cmd=put key=k value=";
  std::string at_limit = prefix + std::string(kPmiMaxLine - prefix.size(), 'x');
  REQUIRE(at_limit.size() == kPmiMaxLine);
  CHECK(parse_pmi_line(at_limit).ok());

  auto over = parse_pmi_line(at_limit + "x");
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().message.find("exceeds") != std::string::npos);

  CHECK_FALSE(parse_pmi_line("cmd=get key=abcdef", 10).ok());
}

TEST_CASE("format_pmi writes one newline-terminated line that parses back", "[pmi][protocol]") {
  CHECK(format_pmi("barrier_out") == "cmd=barrier_out\n");
  std::string line = format_pmi("get_result", {{"rc", "0"}, {"msg", "success"}, {"value", "a=b"}});
  CHECK(line == "cmd=get_result rc=0 msg=success value=a=b\n");
  auto back = parse_pmi_line(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE(back.ok());
  CHECK(back->name == "get_result");
  CHECK(*back->find("value") == "a=b");
}

TEST_CASE("is_pmi_token refuses what would break a line", "[pmi][protocol]") {
  CHECK(is_pmi_token("(vector,(0,1,4))"));
  CHECK(is_pmi_token(""));
  CHECK_FALSE(is_pmi_token("a b"));
  CHECK_FALSE(is_pmi_token("a\nb"));
}

TEST_CASE("pmi_process_mapping compresses equal blocks like Hydra", "[pmi][protocol]") {
  CHECK(pmi_process_mapping({4}) == "(vector,(0,1,4))");
  CHECK(pmi_process_mapping({2, 2}) == "(vector,(0,2,2))");
  CHECK(pmi_process_mapping({2, 2, 1}) == "(vector,(0,2,2),(2,1,1))");
  CHECK(pmi_process_mapping({1, 3, 3}) == "(vector,(0,1,1),(1,2,3))");
}
