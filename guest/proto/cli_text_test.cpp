#include <catch2/catch.hpp>

#include "proto/cli_text.hpp"

using gmm::format_size;
using gmm::format_table;
using gmm::parse_size;

TEST_CASE("sizes parse with binary suffixes", "[cli_text]") {
  CHECK(parse_size("0") == 0u);
  CHECK(parse_size("4096") == 4096u);
  CHECK(parse_size("4K") == 4096u);
  CHECK(parse_size("4k") == 4096u);
  CHECK(parse_size("1M") == 1048576u);
  CHECK(parse_size("256M") == 256ull << 20);
  CHECK(parse_size("2G") == 2ull << 30);
  CHECK(parse_size("1T") == 1ull << 40);
  CHECK(parse_size("18446744073709551615") == 18446744073709551615ull);
}

TEST_CASE("bad sizes are refused", "[cli_text]") {
  for (const char* bad : {"", "K", "4KB", "4 K", " 4", "-1", "+1", "1.5M", "0x10", "4X", "18446744073709551616",
                          "17179869184G", "16777216T"}) {
    INFO(bad);
    CHECK_FALSE(parse_size(bad).has_value());
  }
}

TEST_CASE("sizes format compactly", "[cli_text]") {
  CHECK(format_size(0) == "0");
  CHECK(format_size(1023) == "1023");
  CHECK(format_size(1024) == "1K");
  CHECK(format_size(1536) == "1.5K");
  CHECK(format_size(256ull << 20) == "256M");
  CHECK(format_size(3ull << 30) == "3G");
}

TEST_CASE("tables align columns", "[cli_text]") {
  CHECK(format_table({{"NAME", "SIZE"}, {"a-long-name", "4K"}, {"b", "1M"}}) ==
        "NAME         SIZE\n"
        "a-long-name  4K\n"
        "b            1M\n");
  CHECK(format_table({}).empty());
}
