// The partitions of one `create context`: which partitions an event belongs
// to, created as Esper creates them. The engine keeps one instance of every
// statement in the context per partition (engine.cpp); this class only knows
// the partitions and their properties (context.name, .id, .label, .keyN).
//
//   keyed      partition by car from Ev: a partition per distinct key, created
//              by the first event with that key (it is also that partition's
//              first event); ids in creation order
//   hash       coalesce by consistent_hash_crc32(car) from Ev granularity N:
//              a partition per bucket (Esper's hash: CRC32 of the string's
//              bytes mod N, or Java's hashCode mod N), created by its first
//              event, or all N at the start with `preallocate` (id = bucket)
//   category   group by speed > 90 as fast, ...: one partition per label from
//              the start; an event enters every partition whose condition holds
#pragma once

#include "ast.hpp"
#include "compile.hpp"
#include "flat_index.hpp"
#include "serialize.hpp"

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace weir::cep {

class ContextRuntime {
 public:
  // streams: the engine's streams so far (name and type by id).
  ContextRuntime(const ContextDecl& decl, const std::vector<std::pair<std::string, const EventType*>>& streams,
                 const Variables& vars, const std::string& file);

  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  // What a statement reading `stream` may use of the context; EplError at
  // `pos` when the context does not partition that stream.
  ContextShape shape_for(const std::string& stream, Pos pos) const;

  // Called with each partition when it is created.
  void set_on_create(std::function<void(size_t)> fn) { on_create_ = std::move(fn); }
  // The partitions that exist from the start (categories, preallocated buckets).
  void create_initial();
  // The partitions an event of stream `stream_id` belongs to (created when
  // missing), in partition order.
  void route(int stream_id, const Value* row, std::vector<size_t>& out);

  size_t size() const { return parts_.size(); }
  // Cache hints for events about to be routed (Engine::send_batch), with no
  // effect on routing: whether this context finds an event's partition by a
  // key (keyed and hash contexts), then the hash the partition of an event
  // of `stream_id` is indexed under (its index slot fetched), then the
  // partition indexed under that hash (SIZE_MAX when there is none yet; it
  // may be another key's: a hint only), its key fetched.
  bool keyed() const { return kind_ != ContextKind::Category; }
  uint64_t prefetch_slot(int stream_id, const Value* row);
  size_t prefetch_partition(uint64_t hash) const;
  // Input fields of `stream` the routing reads.
  std::vector<int> fields(const std::string& stream) const;
  // A partition's properties, by CtxSlot.
  const std::vector<Value>& values(size_t partition) const { return parts_[partition]; }

  // The partitions (their properties, in order), for snapshots; load()
  // recreates them (on_create for each).
  void save(Writer& w) const;
  void load(Reader& r);
  // Takes the partitions of a context with the same text (hot reload).
  void copy_partitions(const ContextRuntime& old);

 private:
  struct Router {
    int stream = -1;
    Plan plan;                 // stream_filter = the item's filter; columns = keys / hashed expression / conditions
    HashFn fn = HashFn::Crc32;
    std::vector<Value> slots;  // the event's slots in the plan's layout (scratch)
    // A keyed context: the input field of each key (a property each), read
    // straight from the event's row (route and prefetch_slot run per event).
    std::vector<int> key_fields;
  };
  // The router's slots filled from an event's row.
  void fill(Router& r, const Value* row);
  // A keyed or hash context's key of the event in the router's slots, in key_.
  void make_key(const Router& r);
  // A keyed context's key of an event: in its row (one key) or in key_.
  const Value* keyed_key(const Router& r, const Value* row);
  // The partition of a key (key_width_ values), created when missing.
  size_t find_or_add(const Value* key);
  size_t add(const Value* key);
  void clear_partitions();
  const Value* key_of(size_t partition) const { return keys_.data() + partition * key_width_; }
  int64_t bucket(const Router& r, const Value& v) const;

  std::string name_, text_;
  ContextKind kind_;
  int64_t granularity_;
  bool preallocate_;
  std::vector<std::string> labels_;   // categories
  std::vector<std::string> streams_;  // per item
  std::string file_;
  std::vector<Router> routers_;
  std::vector<std::vector<Value>> parts_;
  // Partition keys: the keyed context's key values, the hash bucket, or the
  // category's number; key_width_ values each, by partition, in keys_.
  size_t key_width_;
  std::vector<Value> keys_;
  FlatIndex<size_t, SIZE_MAX> index_;  // key -> partition
  std::function<void(size_t)> on_create_;
  std::vector<Value> key_;  // scratch
};

// Esper's consistent_hash_crc32 and hash_code of a value, mod granularity
// (non-negative, as Esper's ContextControllerHashedGetter*).
int64_t crc32_bucket(std::string_view s, int64_t granularity);
int64_t java_hash_bucket(const Value& v, Narrow narrow, int64_t granularity);

}  // namespace weir::cep
