// write_checkpoint on failure: it reports why and leaves no `<path>.tmp` behind
// (on a full disk a half-written temp file holds the space a retry needs).
#include "checkpoint.hpp"

#include <gtest/gtest.h>

#include <weir_test.hpp>

#include <csignal>
#include <filesystem>
#include <sys/resource.h>

namespace weir {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

CheckpointData some_state(size_t bytes) {
  CheckpointData d;
  d.plugin = "test_counter";
  d.positions[0] = 41;
  d.state.assign(bytes, 'x');
  return d;
}

TEST(CheckpointFile, WrittenAndReadBack) {
  TempDir dir;
  std::string error;
  ASSERT_TRUE(write_checkpoint(dir.file("c.ckpt"), some_state(100), error)) << error;
  auto back = read_checkpoint(dir.file("c.ckpt"), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->state, std::string(100, 'x'));
  EXPECT_FALSE(fs::exists(dir.file("c.ckpt.tmp")));
}

// The disk fills while the state is written: here a file size limit (EFBIG,
// with SIGXFSZ ignored), as ENOSPC cannot be had without a small filesystem.
TEST(CheckpointFile, AFailedWriteRemovesItsTempFile) {
  TempDir dir;
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 64 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string error;
  bool ok = write_checkpoint(dir.file("c.ckpt"), some_state(1 << 20), error);
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(ok);
  EXPECT_NE(error.find("c.ckpt.tmp: cannot be written: File too large"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(dir.file("c.ckpt.tmp"))) << "the half-written temp file stays";
}

// Written, but it cannot replace the target (a directory is in the way).
TEST(CheckpointFile, AFailedRenameRemovesItsTempFile) {
  TempDir dir;
  fs::create_directories(dir.file("c.ckpt") + "/in-the-way");
  std::string error;
  EXPECT_FALSE(write_checkpoint(dir.file("c.ckpt"), some_state(100), error));
  EXPECT_NE(error.find("cannot replace"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(dir.file("c.ckpt.tmp"))) << "the temp file stays";
}

}  // namespace
}  // namespace weir
