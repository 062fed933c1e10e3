/*
 * weir plugin ABI — the only contract between the host and a plugin library.
 *
 * Pure C so that a plugin built by another compiler, standard library or SDK
 * minor version still loads. No C++ object, exception or allocation crosses
 * this boundary: every batch is allocated and freed by the host, every string
 * a plugin puts in a batch lives in that batch's arena (or is interned by the
 * host), and every call returns a status code.
 *
 * Versioning: a plugin exports one symbol, `weir_plugin_entry`, returning a
 * static descriptor that starts with its size and the ABI major/minor it was
 * built against. The host refuses a different major. Minor versions only
 * append fields/functions at the end of structs: struct_size says how much a
 * plugin filled in, and the host treats the entries it did not fill in as NULL
 * (a plugin built against 1.0 loads in a 1.1 host). A plugin must check a host
 * function's presence (weir_host_api.struct_size) before calling one newer than
 * the oldest host it wants to run in.
 *
 * Plugin authors normally use the C++ wrapper in <weir/sdk.hpp>.
 */
#ifndef WEIR_ABI_H
#define WEIR_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEIR_ABI_MAJOR 1
#define WEIR_ABI_MINOR 3

/* ---- status codes returned by plugin callbacks and host functions ---- */
typedef enum weir_status {
  WEIR_OK = 0,
  WEIR_IDLE = 1,     /* source: nothing available right now */
  WEIR_END = 2,      /* source: finite input is exhausted */
  WEIR_PENDING = 3,  /* sink: write accepted, host->ack() follows later */
  WEIR_RETRY = 4,    /* sink: transient failure, host retries the batch with backoff */
  WEIR_STOPPING = 5, /* host: the pipeline is shutting down, return soon */
  WEIR_FAILED = -1   /* fatal: the node cannot continue (message via host->log) */
} weir_status;

typedef enum weir_kind { WEIR_SOURCE = 1, WEIR_OPERATOR = 2, WEIR_SINK = 3 } weir_kind;

typedef enum weir_log_level { WEIR_LOG_DEBUG = 0, WEIR_LOG_INFO = 1, WEIR_LOG_WARN = 2, WEIR_LOG_ERROR = 3 } weir_log_level;

/* ---- the record model ---- */

/* A string slice. Never NUL-terminated by contract (data may contain NULs). */
typedef struct weir_str {
  const char* data;
  uint32_t size;
} weir_str;

typedef enum weir_type {
  WEIR_NULL = 0,
  WEIR_INT64 = 1,
  WEIR_DOUBLE = 2,
  WEIR_STRING = 3,
  WEIR_BOOL = 4,
  WEIR_TIMESTAMP = 5 /* nanoseconds since the Unix epoch, UTC */
} weir_type;

typedef struct weir_value {
  uint32_t type; /* weir_type */
  union {
    int64_t i64; /* WEIR_INT64, WEIR_TIMESTAMP */
    double f64;  /* WEIR_DOUBLE */
    weir_str str;/* WEIR_STRING */
    uint8_t b;   /* WEIR_BOOL */
  } as;
} weir_value;

typedef struct weir_field {
  weir_str name; /* interned by the host: compare by pointer or by bytes */
  weir_value value;
} weir_field;

/* Where a record came from in its source, e.g. a Kafka partition and offset. */
typedef struct weir_position {
  int32_t partition;
  int64_t offset;
} weir_position;

typedef struct weir_record {
  weir_str key;            /* may be empty */
  weir_str payload;        /* raw bytes, may be empty once decoded */
  int64_t event_time_ns;   /* 0 when unknown */
  weir_position position;  /* set by sources that can commit */
  const weir_field* fields;
  uint32_t field_count;
} weir_record;

/* An immutable batch owned by the host. Shared between consumers on fan-out. */
typedef struct weir_batch {
  const weir_record* records;
  uint32_t count;
} weir_batch;

/* ---- plugin descriptor (static data) ---- */

typedef enum weir_param_type {
  WEIR_PARAM_STRING = 1,
  WEIR_PARAM_INT = 2,
  WEIR_PARAM_DOUBLE = 3,
  WEIR_PARAM_BOOL = 4,
  WEIR_PARAM_STRING_LIST = 5,
  WEIR_PARAM_TABLE = 6 /* string->string sub-table, e.g. a client library's own settings */
} weir_param_type;

typedef struct weir_param_spec {
  const char* name;
  uint32_t type;              /* weir_param_type */
  const char* default_value;  /* TOML literal text (e.g. "100", "\"x\"", "[]"), or NULL */
  int required;               /* non-zero: must be given (default_value is then NULL) */
  const char* unit;           /* e.g. "ms", "records", or NULL; "template": the value (or each list item) is a
                                 template of <weir/template.hpp>, whose old spellings the host warns about */
  const char* doc;            /* one line */
} weir_param_spec;

typedef struct weir_port_spec {
  const char* name;
  const char* doc;
} weir_port_spec;

/* Plugin flags. */
#define WEIR_FLAG_DYNAMIC_OUTPUTS 1u /* output port names come from parameters (e.g. one per rule) */
#define WEIR_FLAG_STATEFUL 2u        /* implements snapshot/restore */
#define WEIR_FLAG_PARTITIONED 4u     /* ABI 1.1: keeps its state per source partition (the *_partition entries) */
/* ABI 1.2: sets its output records' event time from their data (a decoder), so
 * its input's event times say nothing of its output's: the host does not pass
 * its input's watermarks on (see on_watermark). */
#define WEIR_FLAG_SETS_EVENT_TIME 8u

/* ---- values handed to create() ---- */

typedef struct weir_kv {
  weir_str key;
  weir_str value;
} weir_kv;

typedef struct weir_param_value {
  const char* name;
  uint32_t type; /* weir_param_type */
  union {
    int64_t i64;
    double f64;
    uint8_t b;
    weir_str str;
    struct { const weir_str* items; uint32_t count; } list;
    struct { const weir_kv* items; uint32_t count; } table;
  } as;
} weir_param_value;

/* Opaque host objects. */
typedef struct weir_node weir_node;       /* one running node; passed back on every host call */
typedef struct weir_builder weir_builder; /* a batch under construction */

/* Byte sink for snapshots. */
typedef struct weir_writer {
  void* opaque;
  void (*write)(void* opaque, const void* data, size_t size);
} weir_writer;

/* ---- host API: functions the host gives every plugin instance ----
 *
 * Threads. A node's *owner thread* is the thread that calls its instance's
 * entries (see the vtable below): the main thread while the pipeline is
 * created and opened, then the node's own thread while it runs (a hot swap's
 * new instance is created there too), then the main thread again for destroy.
 *  - Any thread (a client library's callback thread, a plugin's own thread):
 *    log, intern, batch_begin, batch_add, batch_alloc, batch_discard (a
 *    builder is used by one thread at a time), ack, gauge, stopping, now_ns,
 *    per_partition, sent, reject_sent.
 *  - The owner thread only, from within one of the node's entries: output_port,
 *    emit, forward, error, error_n, set_timer, hold, release,
 *    partitions_assigned, partitions_revoked. The host checks: a call from
 *    another thread is refused (logged as an ERROR naming the function; emit
 *    and forward return WEIR_FAILED, output_port -1, hold 0, the others do
 *    nothing), never a race.
 */
typedef struct weir_host_api {
  uint32_t struct_size;

  void (*log)(weir_node* node, int level, const char* message);

  /* A host-owned copy of a string that lives as long as the process. */
  weir_str (*intern)(weir_node* node, const char* data, uint32_t size);

  /* Output port handle by name (static ports: index in declared order). -1 if unknown. */
  int32_t (*output_port)(weir_node* node, const char* name);

  /* Building batches. Pointers returned stay valid until emit/discard. */
  weir_builder* (*batch_begin)(weir_node* node, uint32_t record_hint);
  weir_record* (*batch_add)(weir_builder* builder);          /* zeroed record */
  void* (*batch_alloc)(weir_builder* builder, uint32_t size);/* arena bytes, 8-aligned */
  void (*batch_discard)(weir_builder* builder);

  /* Send a built batch (consumes the builder). Blocks while the queue ahead is
   * full (backpressure). Returns WEIR_OK or WEIR_STOPPING. */
  int (*emit)(weir_node* node, int32_t port, weir_builder* builder);
  /* Send an input batch on unchanged, without copying it. */
  int (*forward)(weir_node* node, int32_t port, const weir_batch* batch);

  /* A record that cannot be handled: goes to the node's error port with the
   * reason. From a sink's write() that returns WEIR_RETRY, these are dropped:
   * the whole batch comes again. */
  void (*error)(weir_node* node, const weir_record* record, const char* reason);

  /* Ask for on_timer every interval_ms (0 disables). */
  void (*set_timer)(weir_node* node, int64_t interval_ms);

  /* Stateful operators: keep the batch being processed unacknowledged beyond
   * process() (e.g. until its window closes). Returns a token for release(). */
  uint64_t (*hold)(weir_node* node);
  void (*release)(weir_node* node, uint64_t token);

  /* Async sinks: the outcome of a write that returned WEIR_PENDING.
   * ok != 0: written; ok == 0: transient failure, the host retries. Thread-safe. */
  void (*ack)(weir_node* node, const weir_batch* batch, int ok);

  /* A plugin-specific gauge for the metrics endpoint (e.g. consumer lag). Thread-safe.
   * A NaN value removes the gauge (e.g. the lag of a partition no longer assigned). */
  void (*gauge)(weir_node* node, const char* name, const char* labels, double value);

  /* 0 while running; 1 once a graceful shutdown has begun (sources should
   * return from poll; sinks keep retrying so the drain can finish); 2 on a
   * hard stop or once the pipeline has failed (give up retrying: nothing
   * more will be acknowledged). */
  int (*stopping)(weir_node* node);

  /* Current time in ns (processing time; the host may virtualize it in tests). */
  int64_t (*now_ns)(weir_node* node);

  /* ---- ABI 1.1: check struct_size before calling these (an older host lacks them) ---- */

  /* error() with a reason of reason_size bytes, NULs included (error() stops at the first). */
  void (*error_n)(weir_node* node, const weir_record* record, const char* reason, uint32_t reason_size);

  /* Sources, on the node's thread, before emitting the first batch with records
   * of these partitions: PARTITIONS (position.partition values) are now read
   * by this process. Operators with state per partition downstream restore
   * theirs (so a partition's saved windows are back even if no new record of
   * it comes, e.g. to end them at a bounded input's end). */
  void (*partitions_assigned)(weir_node* node, const int32_t* partitions, uint32_t count);

  /* Sources, on the node's thread, after emitting the last batch with records
   * of these partitions: PARTITIONS (position.partition values) are no longer
   * read by this process (e.g. a Kafka rebalance moves them to another member).
   * Operators with state per partition downstream checkpoint it and drop it
   * once they have processed what was emitted before this call. LOST != 0: the
   * partitions are already someone else's (the group's session expired), so
   * their state is dropped without a checkpoint. */
  void (*partitions_revoked)(weir_node* node, const int32_t* partitions, uint32_t count, int lost);

  /* Operators with WEIR_FLAG_PARTITIONED: 1 when this node runs with state per
   * partition (every process() batch holds one partition's records, and the
   * *_partition entries are called), 0 when it runs with one state for all
   * (the pipeline's `state = "global"`). Constant for the node's life. */
  int (*per_partition)(weir_node* node);

  /* ---- ABI 1.3: sinks with encode()/send() (see the vtable) ---- */

  /* The outcome of a send() that returned WEIR_PENDING: STATUS is WEIR_OK
   * (stored) or WEIR_RETRY (a transient failure, REASON says what; the host
   * sends REQUEST again after the retry policy's backoff). Any thread, once
   * per send(). */
  void (*sent)(weir_node* node, void* request, int status, const char* reason);
  /* The server refused record INDEX (of the batch REQUEST was encoded from)
   * for good, e.g. a WRONGTYPE reply: it goes to the error port with REASON
   * once REQUEST is done (WEIR_OK), so a request sent again never rejects a
   * record twice; what an attempt that ends in WEIR_RETRY rejected is
   * forgotten. Any thread, before the sent() or the return of its send(). */
  void (*reject_sent)(weir_node* node, void* request, uint32_t index, const char* reason, uint32_t reason_size);
} weir_host_api;

/* ---- plugin vtable: what the host calls; NULL entries mean "not supported" ----
 *
 * Threads. The host calls an instance's entries from one thread at a time,
 * each call finished before the next begins, so an instance needs no lock for
 * its own entries (only for threads of its own):
 *  - create, restore (a checkpoint's state), open: on the main thread before
 *    the node's thread starts; for a hot swap's new instance, on the node's
 *    thread (create, restore of the old instance's snapshot, open).
 *  - poll, commit, process, on_timer, flush, write, snapshot, reload,
 *    snapshot_partition, restore_partition, drop_partition, on_watermark,
 *    encode, send, free_request, query, close: on the node's thread (reload, snapshot for a swap: between two
 *    batches, when `weir ctl` asks).
 *  - destroy: on the main thread after the node's thread ended; for the
 *    instance a hot swap replaces, on the node's thread.
 * A node with `parallelism = N` has N instances, each with a thread of its own.
 */
typedef struct weir_plugin_vtable {
  uint32_t struct_size;

  /* Configure: check parameters beyond their schema, no I/O. Returns an
   * instance or NULL with a message in errbuf. */
  void* (*create)(const weir_host_api* host, weir_node* node, const weir_param_value* params,
                  uint32_t param_count, char* errbuf, uint32_t errbuf_size);
  void (*destroy)(void* self);

  /* Start: connect, open files. Status; message via host->log on failure. */
  int (*open)(void* self);
  int (*close)(void* self);

  /* Sources: emit zero or more batches. WEIR_OK, WEIR_IDLE (host waits briefly), WEIR_END. */
  int (*poll)(void* self);
  /* Sources: every sink downstream has acknowledged up to these positions (inclusive). */
  int (*commit)(void* self, const weir_position* positions, uint32_t count);

  /* Operators. */
  int (*process)(void* self, uint32_t input_port, const weir_batch* batch);
  int (*on_timer)(void* self, int64_t now_ns);
  /* Shutdown: emit whatever is buffered. */
  int (*flush)(void* self);

  /* Sinks: WEIR_OK (written and acked), WEIR_PENDING (host->ack follows), WEIR_RETRY
   * (the host calls write() again with the same batch after the retry backoff).
   * Since ABI 1.3 a sink may have encode()/send() instead (see below). */
  int (*write)(void* self, const weir_batch* batch);

  /* Stateful nodes (hot swap). */
  int (*snapshot)(void* self, weir_writer* out);
  int (*restore)(void* self, const void* data, size_t size);

  /* Re-read parameters/files without a restart (e.g. rules). NULL: not supported. */
  int (*reload)(void* self, char* errbuf, uint32_t errbuf_size);

  /* ---- ABI 1.1: state per source partition (WEIR_FLAG_PARTITIONED) ----
   * Like a Kafka Streams task: one independent state per source partition, so
   * partitions can move between processes with their state. When the node runs
   * per partition (host->per_partition), the host, on the node's thread:
   *  - gives process() only batches whose records all have one partition;
   *  - calls restore_partition() with the partition's checkpoint, if it has
   *    one, before the first record of a partition this instance does not hold;
   *  - takes snapshot_partition() for the partition's checkpoint;
   *  - calls drop_partition() when the partition left this process (after its
   *    last records here; no more records of it follow unless restored again).
   * snapshot()/restore() still carry the whole instance (hot swap). */
  int (*snapshot_partition)(void* self, int32_t partition, weir_writer* out);
  int (*restore_partition)(void* self, int32_t partition, const void* data, size_t size);
  int (*drop_partition)(void* self, int32_t partition);

  /* ---- ABI 1.2: event time without records (stateful operators; NULL: not used) ----
   * PARTITION's event time reached WATERMARK_NS with no record to show for it
   * here: upstream operators filtered its records out, or sent them elsewhere.
   * Windows and timers that end at or before WATERMARK_NS may close now, as if
   * a record of that time had come. Called on the node's thread, like
   * process() (the host may emit from it); PARTITION is -1 when the node runs
   * with one state for all partitions (WATERMARK_NS is then the node's clock).
   * Watermarks travel as control batches: a stateless operator that emits
   * nothing on a port for an input batch sends the batch's event time per
   * partition on that port instead (unless it has WEIR_FLAG_SETS_EVENT_TIME),
   * fan-out copies them to every reader, and a stateful node consumes them. */
  int (*on_watermark)(void* self, int32_t partition, int64_t watermark_ns);

  /* ---- ABI 1.3: a sink in two steps, driven by the host ----
   * The host owns delivery: it gathers input batches up to the sink's
   * batch_max_records / batch_max_bytes / batch_linger_ms, keeps at most
   * max_in_flight requests outstanding, and retries with one backoff policy
   * (retry_initial_ms, retry_max_ms, retry_multiplier, retry_jitter,
   * retry_max_attempts). A sink declares those parameters to let users set
   * them (the SDK's weir::delivery_params); the host reads them by these
   * names from any sink. A sink with encode/send never sleeps or retries by
   * itself, so control commands, timers and metrics go on while it fails.
   *
   * encode: turn BATCH into a request the plugin owns (its wire form: puts,
   *   commands, lines). Records that cannot be encoded go to host->error().
   *   *REQUEST = NULL with WEIR_OK: nothing to send (every record rejected).
   *   Once per batch: a request is sent again as it is.
   * send: send REQUEST. WEIR_OK: stored. WEIR_PENDING: host->sent() follows.
   *   WEIR_RETRY: a transient failure, its reason in ERRBUF; the host calls
   *   send() again with the same REQUEST after the backoff. WEIR_FAILED:
   *   the node cannot continue. Records the server refused: host->reject_sent().
   * free_request: the host is done with REQUEST (stored, given up, or
   *   dropped at a hot swap: the new instance encodes the batch anew).
   * All three on the node's thread. A sink without them has write(): the
   * host calls write() with the batch, and after WEIR_RETRY calls write()
   * again with the same batch pointer and records after the backoff. */
  int (*encode)(void* self, const weir_batch* batch, void** request);
  int (*send)(void* self, void* request, char* errbuf, uint32_t errbuf_size);
  void (*free_request)(void* self, void* request);

  /* ---- ABI 1.3: on-demand queries (`weir ctl query NODE TEXT`; NULL: not supported) ----
   * Answers TEXT (SIZE bytes, not NUL-terminated; the plugin's own query
   * language, e.g. cep_rule's `select ... from WINDOW where ...`) from the
   * node's current state, without changing it. Called on the node's thread,
   * between two batches (through the node's command mailbox, like reload).
   * On WEIR_OK the result is written to OUT as JSON Lines: one JSON object per
   * row, each followed by '\n' (nothing for no row). On WEIR_FAILED, ERRBUF
   * holds why (a bad query: the position and message the user must see). */
  int (*query)(void* self, const char* text, uint32_t size, weir_writer* out, char* errbuf, uint32_t errbuf_size);
} weir_plugin_vtable;

typedef struct weir_plugin {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  const char* name;        /* e.g. "redis_sink" */
  const char* version;     /* the plugin's own semver */
  const char* description; /* one line */
  uint32_t kind;           /* weir_kind */
  uint32_t flags;          /* WEIR_FLAG_* */
  const weir_port_spec* inputs;
  uint32_t input_count;
  const weir_port_spec* outputs;
  uint32_t output_count;
  const weir_param_spec* params;
  uint32_t param_count;
  const weir_plugin_vtable* vtable;
} weir_plugin;

/* The one symbol every plugin library exports. */
#define WEIR_PLUGIN_ENTRY_SYMBOL "weir_plugin_entry"
typedef const weir_plugin* (*weir_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* WEIR_ABI_H */
