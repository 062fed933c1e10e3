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
#include <csignal>
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

// `weir run FILE --metrics 127.0.0.1:0 ...` in the background; ctl() talks to it.
class BackgroundWeir {
 public:
  BackgroundWeir(const TempDir& dir, const std::string& args, const std::string& env = "") : dir_(dir) {
    std::string cmd = env + " " + WEIR_BINARY + " run " + args + " --metrics 127.0.0.1:0 >" + dir.file("bg.out") + " 2>" +
                      dir.file("bg.err") + " & echo $! >" + dir.file("bg.pid");
    if (std::system(cmd.c_str()) != 0) return;
    pid_ = std::stoi(read_file(dir.file("bg.pid")));
    for (int i = 0; i < 200 && admin_.empty(); ++i) {
      usleep(25'000);
      std::string err = read_file(dir.file("bg.err"));
      size_t at = err.find("http://127.0.0.1:");
      if (at != std::string::npos) admin_ = "127.0.0.1:" + err.substr(at + 17, err.find('/', at + 17) - at - 17);
    }
  }
  ~BackgroundWeir() {
    if (pid_ > 0 && kill(pid_, 0) == 0) kill(pid_, SIGKILL);
  }
  bool started() const { return !admin_.empty(); }
  RunResult ctl(const std::string& args) const { return run_weir("ctl --admin " + admin_ + " " + args); }
  // Waits for the process to exit by itself; false on timeout.
  bool wait(int seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (kill(pid_, 0) != 0) return true;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) return true;
      usleep(50'000);
    }
    return false;
  }
  void signal(int sig) const { kill(pid_, sig); }
  std::string err() const { return read_file(dir_.file("bg.err")); }
  std::string out() const { return read_file(dir_.file("bg.out")); }

 private:
  const TempDir& dir_;
  pid_t pid_ = -1;
  std::string admin_;
};

inline size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (c == '\n');
  return n;
}

}  // namespace weir::testing
