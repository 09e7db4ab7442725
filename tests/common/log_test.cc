// Log lines: values from peers cannot forge a line, a terminal escape, or flood the journal.
#include "common/log.h"

#include <gtest/gtest.h>

#include <string>

namespace hashmesh {
namespace {

std::string Line(std::string_view value) {
  LogLine line(LogLevel::kError, "peer said");
  line.KvString("name", value);
  std::string text = line.text();
  return text;
}

TEST(LogTest, PlainValuesStayBareAndSpecialOnesAreQuotedAndEscaped) {
  EXPECT_EQ(Line("alice"), "peer said name=alice");
  EXPECT_EQ(Line(""), "peer said name=\"\"");
  EXPECT_EQ(Line("a b"), "peer said name=\"a b\"");
  EXPECT_EQ(Line("say \"hi\" \\o/"), "peer said name=\"say \\\"hi\\\" \\\\o/\"");
}

TEST(LogTest, ControlCharactersCannotForgeALineOrATerminalEscape) {
  const std::string forged = "x\n<3>forged line\r\x1b[2J\t\x7f";
  const std::string line = Line(forged);
  EXPECT_EQ(line, "peer said name=\"x\\n<3>forged line\\x0d\\x1b[2J\\t\\x7f\"");
  for (char c : line) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << line;
}

TEST(LogTest, ALongValueIsCutWithItsLengthSaid) {
  const std::string name(4 << 20, 'n');  // a peer's node name may be up to a frame long
  const std::string line = Line(name);
  EXPECT_LT(line.size(), LogLine::kMaxLogValueBytes + 64);
  EXPECT_NE(line.find("...(4194304 bytes)\""), std::string::npos);
}

}  // namespace
}  // namespace hashmesh
