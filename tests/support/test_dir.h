// A scratch directory named after the running GoogleTest test, emptied before use.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace hashmesh::testing {

// <tmp>/<prefix>_<pid>_<test name>, removed first if a killed run left it behind.
inline std::filesystem::path FreshTestDir(std::string_view prefix) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      (std::string(prefix) + "_" + std::to_string(getpid()) + "_" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  return dir;
}

}  // namespace hashmesh::testing
