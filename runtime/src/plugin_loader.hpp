// Finds plugin libraries on the search path, loads them with Boost.DLL and
// checks their ABI version before anything else is read from them.
#pragma once

#include <weir/abi.h>

#include <boost/dll/shared_library.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace weir {

// A loaded plugin library. The descriptor's strings and ports point into the
// library, so it lives exactly as long as this object. The descriptor and
// vtable are host copies, full size for this ABI minor: entries a plugin built
// against an older minor did not fill in are NULL.
class PluginLibrary {
 public:
  // Loads PATH and reads its descriptor. Throws std::runtime_error with a
  // message naming the file (and both versions on an ABI mismatch).
  static std::shared_ptr<PluginLibrary> load(const std::string& path);

  const weir_plugin& descriptor() const { return *descriptor_; }
  const std::string& path() const { return path_; }
  std::string name() const { return descriptor_->name; }

 private:
  boost::dll::shared_library library_;
  const weir_plugin* descriptor_ = nullptr;  // = &descriptor_copy_
  weir_plugin descriptor_copy_{};
  weir_plugin_vtable vtable_copy_{};
  std::string path_;
};

// The plugins a pipeline can use: every weir_<name>.so on the search path.
class PluginRegistry {
 public:
  explicit PluginRegistry(std::vector<std::string> search_path);

  // By name ("redis_sink") or by path ("./x.so"). Null if absent; throws if
  // the file exists but cannot be loaded.
  std::shared_ptr<PluginLibrary> find(const std::string& name_or_path);
  // The file find() would load ("" if none), without loading it.
  std::string path_of(const std::string& name_or_path) const;
  std::vector<std::string> names() const;  // every plugin found on the path
  const std::vector<std::string>& search_path() const { return search_path_; }

 private:
  std::vector<std::string> search_path_;
  std::map<std::string, std::string> files_;  // name -> path, first on the path wins
  std::map<std::string, std::shared_ptr<PluginLibrary>> loaded_;
};

// Loading a library runs its code (constructors) before any check: a library
// named at run time (hot swap) must first be a regular file inside one of
// DIRS, symlinks resolved. "" and RESOLVED = its real path, or why not.
std::string check_plugin_file(const std::string& path, const std::vector<std::string>& dirs, std::string& resolved);

// Where the host looks when the pipeline does not say: $WEIR_PLUGIN_PATH, the
// build tree's plugins/ next to the binary, the installed plugin dir seen from
// the binary (../lib/weir/plugins: /usr/bin/weir -> /usr/lib/weir/plugins, and
// the same inside a tree unpacked elsewhere), then that dir at the configured prefix.
std::vector<std::string> default_plugin_path();
// Where plugins are looked for: FIRST (a pipeline's plugin_path, `--path` dirs), then the defaults.
std::vector<std::string> plugin_search_path(std::vector<std::string> first);

// "source", "operator" or "sink": how messages, listings and /status name a weir_kind.
const char* kind_name(uint32_t kind);

}  // namespace weir
