#include "plugin_loader.hpp"

#include <boost/dll/runtime_symbol_info.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace fs = std::filesystem;

namespace weir {

// The sizes of the ABI 1.0 structs: every field up to and including the last one 1.0 had.
constexpr size_t kDescriptorSize_1_0 = offsetof(weir_plugin, vtable) + sizeof(weir_plugin::vtable);
constexpr size_t kVtableSize_1_0 = offsetof(weir_plugin_vtable, reload) + sizeof(weir_plugin_vtable::reload);

std::shared_ptr<PluginLibrary> PluginLibrary::load(const std::string& path) {
  auto lib = std::make_shared<PluginLibrary>();
  lib->path_ = path;
  try {
    // rtld_local keeps each plugin's symbols to itself, so two versions of
    // one plugin can be loaded side by side (hot swap).
    lib->library_.load(path, boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": cannot load plugin: " + e.what());
  }
  if (!lib->library_.has(WEIR_PLUGIN_ENTRY_SYMBOL))
    throw std::runtime_error(path + ": not a weir plugin (no symbol " WEIR_PLUGIN_ENTRY_SYMBOL ")");
  auto entry = lib->library_.get<const weir_plugin*()>(WEIR_PLUGIN_ENTRY_SYMBOL);
  const weir_plugin* d = entry();
  if (!d) throw std::runtime_error(path + ": plugin entry returned no descriptor");
  // Read only the version fields until they are known to match.
  if (d->abi_major != WEIR_ABI_MAJOR)
    throw std::runtime_error(path + ": plugin built for weir ABI " + std::to_string(d->abi_major) + "." +
                             std::to_string(d->abi_minor) + ", but this host speaks ABI " +
                             std::to_string(WEIR_ABI_MAJOR) + "." + std::to_string(WEIR_ABI_MINOR) +
                             "; rebuild the plugin against this SDK");
  // ABI 1.0 is the smallest a plugin may fill in; later minors append entries.
  if (d->struct_size < kDescriptorSize_1_0 || !d->vtable || d->vtable->struct_size < kVtableSize_1_0)
    throw std::runtime_error(path + ": plugin descriptor is truncated (ABI " + std::to_string(d->abi_major) + "." +
                             std::to_string(d->abi_minor) + ")");
  std::memcpy(&lib->descriptor_copy_, d, std::min<size_t>(d->struct_size, sizeof(weir_plugin)));
  std::memcpy(&lib->vtable_copy_, d->vtable, std::min<size_t>(d->vtable->struct_size, sizeof(weir_plugin_vtable)));
  lib->descriptor_copy_.struct_size = sizeof(weir_plugin);
  lib->vtable_copy_.struct_size = sizeof(weir_plugin_vtable);
  lib->descriptor_copy_.vtable = &lib->vtable_copy_;
  d = lib->descriptor_ = &lib->descriptor_copy_;
  if (!d->name || !*d->name) throw std::runtime_error(path + ": plugin has no name");
  if (d->kind < WEIR_SOURCE || d->kind > WEIR_SINK)
    throw std::runtime_error(path + ": plugin '" + d->name + "' has an unknown kind");
  if ((d->flags & WEIR_FLAG_PARTITIONED) &&
      (d->kind != WEIR_OPERATOR || !d->vtable->snapshot_partition || !d->vtable->restore_partition ||
       !d->vtable->drop_partition))
    throw std::runtime_error(path + ": plugin '" + d->name +
                             "' says it keeps state per partition but is no operator with snapshot_partition, "
                             "restore_partition and drop_partition");
  return lib;
}

static const std::string kPrefix = "weir_";
static const std::string kSuffix = ".so";

PluginRegistry::PluginRegistry(std::vector<std::string> search_path) : search_path_(std::move(search_path)) {
  for (const auto& dir : search_path_) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      std::string file = entry.path().filename().string();
      if (file.size() <= kPrefix.size() + kSuffix.size() || file.rfind(kPrefix, 0) != 0 ||
          file.substr(file.size() - kSuffix.size()) != kSuffix)
        continue;
      std::string name = file.substr(kPrefix.size(), file.size() - kPrefix.size() - kSuffix.size());
      files_.emplace(name, entry.path().string());  // emplace keeps the first on the path
    }
  }
}

std::shared_ptr<PluginLibrary> PluginRegistry::find(const std::string& name_or_path) {
  if (auto it = loaded_.find(name_or_path); it != loaded_.end()) return it->second;
  std::string path;
  if (name_or_path.find('/') != std::string::npos) {
    if (!fs::exists(name_or_path)) return nullptr;
    path = name_or_path;
  } else if (auto it = files_.find(name_or_path); it != files_.end()) {
    path = it->second;
  } else {
    return nullptr;
  }
  auto lib = PluginLibrary::load(path);
  loaded_[name_or_path] = lib;
  return lib;
}

std::string PluginRegistry::path_of(const std::string& name_or_path) const {
  if (name_or_path.find('/') != std::string::npos) return fs::exists(name_or_path) ? name_or_path : "";
  auto it = files_.find(name_or_path);
  return it == files_.end() ? "" : it->second;
}

std::string check_plugin_file(const std::string& path, const std::vector<std::string>& dirs, std::string& resolved) {
  std::error_code ec;
  fs::path real = fs::canonical(path, ec);  // realpath: resolves, opens nothing
  if (ec) return path + ": " + ec.message();
  fs::file_status st = fs::status(real, ec);
  if (ec || !fs::is_regular_file(st)) return path + ": not a regular file; a plugin is a shared library file";
  std::string allowed;
  for (const auto& dir : dirs) {
    allowed += (allowed.empty() ? "" : ", ") + dir;
    fs::path d = fs::canonical(dir, ec);
    if (ec) continue;
    auto [d_end, r_end] = std::mismatch(d.begin(), d.end(), real.begin(), real.end());
    if (d_end == d.end() && r_end != real.end()) {
      resolved = real.string();
      return "";
    }
  }
  return path + ": not in a plugin directory (" + (allowed.empty() ? "none" : allowed) +
         "); allow its directory with `weir run --plugin-dir DIR`";
}

std::vector<std::string> PluginRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, path] : files_) out.push_back(name);
  return out;
}

std::vector<std::string> default_plugin_path() {
  std::vector<std::string> path;
  if (const char* env = std::getenv("WEIR_PLUGIN_PATH")) {
    std::string s = env;
    for (size_t start = 0; start <= s.size();) {
      size_t colon = s.find(':', start);
      if (colon == std::string::npos) colon = s.size();
      if (colon > start) path.push_back(s.substr(start, colon - start));
      start = colon + 1;
    }
  }
  fs::path exe_dir = boost::dll::program_location().parent_path().string();
  path.push_back((exe_dir / "plugins").string());
  path.push_back((exe_dir / WEIR_INSTALL_PLUGIN_DIR_FROM_BIN).lexically_normal().string());
#ifdef WEIR_INSTALL_PLUGIN_DIR_ABS
  path.push_back(WEIR_INSTALL_PLUGIN_DIR_ABS);
#endif
  return path;
}

std::vector<std::string> plugin_search_path(std::vector<std::string> first) {
  for (auto& dir : default_plugin_path()) first.push_back(dir);
  return first;
}

const char* kind_name(uint32_t kind) {
  return kind == WEIR_SOURCE ? "source" : kind == WEIR_SINK ? "sink" : "operator";
}

}  // namespace weir
