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
#include <vector>

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

// The whitespace-separated integers of TEXT (e.g. a test sink's output file).
inline std::vector<int64_t> numbers(const std::string& text) {
  std::vector<int64_t> out;
  std::istringstream in(text);
  for (int64_t v; in >> v;) out.push_back(v);
  return out;
}

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
// weir is this process's child (the shell execs it), so its exit status is known.
class BackgroundWeir {
 public:
  BackgroundWeir(const TempDir& dir, const std::string& args, const std::string& env = "") : dir_(dir) {
    // A second weir in the same directory must not read the first one's
    // admin address: the shell truncates bg.err only once it runs.
    std::filesystem::remove(dir.file("bg.out"));
    std::filesystem::remove(dir.file("bg.err"));
    std::string cmd = "exec env " + env + " " + WEIR_BINARY + " run " + args + " --metrics 127.0.0.1:0 >" + dir.file("bg.out") +
                      " 2>" + dir.file("bg.err");
    pid_ = fork();
    if (pid_ == 0) {
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid_ < 0) return;
    for (int i = 0; i < 200 && admin_.empty() && !exited(); ++i) {
      usleep(25'000);
      std::string err = read_file(dir.file("bg.err"));
      size_t at = err.find("http://127.0.0.1:");
      if (at != std::string::npos) admin_ = "127.0.0.1:" + err.substr(at + 17, err.find('/', at + 17) - at - 17);
    }
  }
  ~BackgroundWeir() {
    if (pid_ > 0 && !exited()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return !admin_.empty(); }
  int admin_port() const { return std::stoi(admin_.substr(admin_.rfind(':') + 1)); }
  const std::string& admin() const { return admin_; }  // HOST:PORT of its admin endpoint
  RunResult ctl(const std::string& args) const { return run_weir("ctl --admin " + admin_ + " " + args); }
  // Waits for the process to exit by itself; false on timeout.
  bool wait(int seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (exited()) return true;
      usleep(50'000);
    }
    return exited();
  }
  // After wait(): the exit code (128 + N when killed by signal N), -1 while running.
  int exit_code() { return exited() ? exit_code_ : -1; }
  void signal(int sig) const {
    if (exit_code_ < 0) kill(pid_, sig);
  }
  std::string err() const { return read_file(dir_.file("bg.err")); }
  std::string out() const { return read_file(dir_.file("bg.out")); }

 private:
  bool exited() {
    if (exit_code_ >= 0) return true;
    int status = 0;
    if (pid_ <= 0 || waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }
  const TempDir& dir_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string admin_;
};

inline size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (c == '\n');
  return n;
}

}  // namespace weir::testing
