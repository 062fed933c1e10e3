#include "checkpoint.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace weir {

namespace fs = std::filesystem;

// The file: a text header a person can read with `head`, then the state bytes.
//   weir-checkpoint 1
//   plugin cep_rule
//   position 0 41234          (one line per partition)
//   watermark 0 1650953400000000000   (event time per partition, ns; optional)
//   state 5120
//   <5120 bytes>
static constexpr const char* kMagic = "weir-checkpoint 1";

std::optional<CheckpointData> read_checkpoint(const std::string& path, std::string& error) {
  error.clear();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno != ENOENT) error = path + ": cannot be read: " + std::strerror(errno);
    return std::nullopt;
  }
  auto bad = [&](const std::string& what) {
    error = path + ": not a usable checkpoint (" + what + "); move it away to start with empty state";
    return std::nullopt;
  };
  std::string line;
  if (!std::getline(in, line) || line != kMagic) return bad("first line is not '" + std::string(kMagic) + "'");
  CheckpointData d;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string word;
    fields >> word;
    if (word == "plugin") {
      fields >> d.plugin;
    } else if (word == "position") {
      int32_t partition = 0;
      int64_t offset = 0;
      if (!(fields >> partition >> offset)) return bad("bad position line '" + line + "'");
      d.positions[partition] = offset;
    } else if (word == "watermark") {
      int32_t partition = 0;
      int64_t ns = 0;
      if (!(fields >> partition >> ns)) return bad("bad watermark line '" + line + "'");
      d.watermarks[partition] = ns;
    } else if (word == "state") {
      size_t size = 0;
      if (!(fields >> size)) return bad("bad state line '" + line + "'");
      d.state.resize(size);
      if (!in.read(d.state.data(), static_cast<std::streamsize>(size))) return bad("state is cut short");
      return d;
    } else {
      return bad("unexpected line '" + line + "'");
    }
  }
  return bad("no state");
}

static bool sync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

bool write_checkpoint(const std::string& path, const CheckpointData& d, std::string& error) {
  fs::path target(path);
  std::string tmp = path + ".tmp";
  std::error_code dir_error;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), dir_error);  // failure shows below
  // A failed write leaves no half-written temp file behind (on a full disk it holds space).
  auto give_up = [&](std::string why) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    error = std::move(why);
    return false;
  };
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << kMagic << "\nplugin " << d.plugin << '\n';
    for (auto [partition, offset] : d.positions) out << "position " << partition << ' ' << offset << '\n';
    for (auto [partition, ns] : d.watermarks) out << "watermark " << partition << ' ' << ns << '\n';
    out << "state " << d.state.size() << '\n';
    out.write(d.state.data(), static_cast<std::streamsize>(d.state.size()));
    out.flush();
    if (!out) {
      std::string why = tmp + ": cannot be written: " + std::strerror(errno);
      out.close();
      return give_up(why);
    }
  }
  // Durable before it replaces the previous one: a power cut leaves one or the other.
  if (!sync_path(tmp, O_RDONLY)) return give_up(tmp + ": fsync failed: " + std::strerror(errno));
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) return give_up(path + ": cannot replace: " + ec.message());
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  sync_path(dir.string(), O_RDONLY | O_DIRECTORY);
  return true;
}

bool snapshot_of(const weir_plugin_vtable* vt, void* instance, std::string& out) {
  if (!vt->snapshot) return false;
  out.clear();
  weir_writer w{&out, [](void* o, const void* data, size_t size) {
                  static_cast<std::string*>(o)->append(static_cast<const char*>(data), size);
                }};
  return vt->snapshot(instance, &w) == WEIR_OK;
}

Checkpointer::Checkpointer(std::string path, int64_t interval_ms, Signal* wake, bool per_partition)
    : path_(std::move(path)), per_partition_(per_partition), interval_ns_(interval_ms * 1'000'000), deliveries_(wake) {}

std::string Checkpointer::path_for(int32_t partition) const {
  if (!per_partition_) return path_;
  return (fs::path(path_) / ("partition-" + std::to_string(partition) + ".ckpt")).string();
}

std::optional<CheckpointData> Checkpointer::saved(int32_t partition, std::string& error) const {
  error.clear();
  std::string path = path_for(partition);
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it)
    if (auto f = it->files.find(path); f != it->files.end()) return f->second;
  return read_checkpoint(path, error);
}

void Checkpointer::resume_partition(int32_t partition, int64_t offset) {
  seen_[partition] = offset;
  skip_[partition] = offset;
}

void Checkpointer::forget(int32_t partition) {
  seen_.erase(partition);
  skip_.erase(partition);
  dirty_parts_.erase(partition);
}

void Checkpointer::resume_after(std::map<int32_t, int64_t> positions) {
  seen_ = positions;
  skip_ = std::move(positions);
}

HostBatch* Checkpointer::admit(HostBatch* b) {
  dirty_ = true;
  admitted_ += b->count;
  for (AckGroup* g : b->acks) {
    g->retain();
    uncovered_.push_back(g);
  }
  for (uint32_t i = 0; i < b->count; ++i) {
    const weir_position& p = b->records[i].position;
    auto [it, inserted] = seen_.emplace(p.partition, p.offset);
    if (!inserted && p.offset > it->second) it->second = p.offset;
  }
  if (per_partition_ && b->count) dirty_parts_.insert(b->records[0].position.partition);  // one partition per batch
  if (skip_.empty()) return b;
  // After a restore: leave out what the state holds. A partition's replay is
  // in order, so once past its saved offset it is not checked any more.
  std::vector<weir_record> kept;
  for (uint32_t i = 0; i < b->count; ++i) {
    const weir_position& p = b->records[i].position;
    auto s = skip_.find(p.partition);
    if (s != skip_.end()) {
      if (p.offset <= s->second) continue;
      skip_.erase(s);
    }
    kept.push_back(b->records[i]);
  }
  if (kept.size() == b->count) return b;
  if (kept.empty()) return nullptr;
  HostBatch* view = new_view(b);
  view->storage = std::move(kept);
  view->seal();
  return view;
}

void Checkpointer::track_emitted(const std::vector<HostBatch*>& emitted) {
  if (emitted.empty()) return;
  AckGroup* g = deliveries_.open_group({{0, static_cast<int64_t>(++emitted_seq_)}});
  for (HostBatch* b : emitted) {
    g->retain();
    b->acks.push_back(g);
  }
  g->release();  // open_group's own count: now only the batches keep it pending
}

void Checkpointer::take(const std::string& plugin, std::string state, int64_t now_ns) {
  // Records from a source that sets no positions all say partition 0, offset 0:
  // saving that would make a restart skip every such record. Save none instead.
  bool no_positions = admitted_ > 1 && seen_.size() == 1 && seen_.begin()->first == 0 && seen_.begin()->second == 0;
  CheckpointData d{plugin, no_positions ? std::map<int32_t, int64_t>{} : seen_, {}, std::move(state)};
  push_pending({{path_, std::move(d)}}, now_ns);
}

void Checkpointer::take_partitions(const std::string& plugin, std::vector<PartitionSnapshot> parts, int64_t now_ns) {
  bool no_positions = admitted_ > 1 && seen_.size() == 1 && seen_.begin()->first == 0 && seen_.begin()->second == 0;
  std::map<std::string, CheckpointData> files;
  for (PartitionSnapshot& p : parts) {
    CheckpointData d{plugin, {}, {}, std::move(p.state)};
    if (auto it = seen_.find(p.partition); it != seen_.end() && !no_positions) d.positions[p.partition] = it->second;
    if (p.watermark_ns != INT64_MIN) d.watermarks[p.partition] = p.watermark_ns;
    files.emplace(path_for(p.partition), std::move(d));
    dirty_parts_.erase(p.partition);
  }
  push_pending(std::move(files), now_ns);
}

void Checkpointer::push_pending(std::map<std::string, CheckpointData> files, int64_t now_ns) {
  pending_.push_back({emitted_seq_, std::move(files), std::move(uncovered_)});
  uncovered_.clear();
  dirty_ = false;
  next_due_ns_ = now_ns + interval_ns_;
}

std::string Checkpointer::settle() {
  for (const weir_position& p : deliveries_.collect())
    delivered_seq_ = std::max(delivered_seq_, static_cast<uint64_t>(p.offset));
  size_t ready = 0;
  while (ready < pending_.size() && pending_[ready].after_delivery <= delivered_seq_) ++ready;
  if (ready == 0) return "";
  // Per file, the newest of the ready snapshots (a partition's file holds only it).
  std::map<std::string, const CheckpointData*> newest;
  for (size_t i = 0; i < ready; ++i)
    for (const auto& [path, data] : pending_[i].files) newest[path] = &data;
  std::string error;
  for (const auto& [path, data] : newest)
    if (!write_checkpoint(path, *data, error)) return error;
  ++written_;
  for (size_t i = 0; i < ready; ++i) {
    for (AckGroup* g : pending_.front().covers) g->release();
    pending_.pop_front();
  }
  return "";
}

}  // namespace weir
