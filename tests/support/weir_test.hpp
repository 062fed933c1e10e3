// Helpers for tests that run the real `weir` binary on a pipeline file.
#pragma once

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace weir::testing {

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// A fresh directory under the build tree, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = std::string(WEIR_BUILD_DIR) + "/test-tmp-XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(file(name)) << text;
    return file(name);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `weir ARGS` (ARGS is shell-quoted by the caller), capturing stdout and stderr.
inline RunResult run_weir(const std::string& args, const std::string& env = "") {
  TempDir tmp;
  std::string cmd = env + " " + WEIR_BINARY + " " + args + " >" + tmp.file("out") + " 2>" + tmp.file("err");
  RunResult r;
  int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(tmp.file("out"));
  r.err = read_file(tmp.file("err"));
  return r;
}

inline size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (c == '\n');
  return n;
}

}  // namespace weir::testing
