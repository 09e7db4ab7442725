// JSON answers of the daemon and the CLIs parsed into their proto messages, for assertions.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "common/json.h"

namespace hashmesh::testing {

// Parses `text` into a T; a text that does not parse fails the running test and shows the text.
template <typename T>
T ParseJson(const std::string& text) {
  T message;
  Status s = FromJson(text, &message);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << text;
  return message;
}

}  // namespace hashmesh::testing
