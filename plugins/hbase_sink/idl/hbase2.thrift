// weir's subset of HBase's Thrift2 gateway protocol (THBaseService).
//
// On the wire Thrift identifies a call by its method NAME and the arguments and
// struct members by their numeric field ID and type; the names of struct
// members, and every struct or method we leave out, do not matter. So this file
// declares only what weir's hbase_sink, the weir-hbase CLI and the benchmark
// use, with the IDs and types of HBase 2.x's thrift2 interface (checked against
// hbase-thrift/src/main/resources/org/apache/hadoop/hbase/thrift2/hbase.thrift).
// Fields the gateway sends that are not declared here (e.g. TColumnValue.tags,
// TResult.stale) are skipped by the generated reader.
//
// "binary" is a byte string (std::string in C++). Optional fields are only
// written when set (the generated __set_x() methods mark them).

namespace cpp weir.hbase.thrift2

// [minStamp, maxStamp) in ms, on cell timestamps.
struct TTimeRange {
  1: required i64 minStamp,
  2: required i64 maxStamp
}

// A family, or one family:qualifier (column selection in get/scan).
struct TColumn {
  1: required binary family,
  2: optional binary qualifier,
  3: optional i64 timestamp
}

// One cell. timestamp = cell version (ms); weir sets it to the event time.
struct TColumnValue {
  1: required binary family,
  2: required binary qualifier,
  3: required binary value,
  4: optional i64 timestamp
}

// A row as returned by get/scan; an empty result has no row and no cells.
struct TResult {
  1: optional binary row,
  2: required list<TColumnValue> columnValues
}

enum TDurability {
  USE_DEFAULT = 0,
  SKIP_WAL = 1,
  ASYNC_WAL = 2,
  SYNC_WAL = 3,
  FSYNC_WAL = 4
}

struct TGet {
  1: required binary row,
  2: optional list<TColumn> columns,
  3: optional i64 timestamp,
  4: optional TTimeRange timeRange,
  5: optional i32 maxVersions,
  6: optional binary filterString
}

// One row's cells. timestamp (3) is the default for cells without their own.
struct TPut {
  1: required binary row,
  2: required list<TColumnValue> columnValues,
  3: optional i64 timestamp,
  6: optional TDurability durability
}

// startRow inclusive, stopRow exclusive; filterString in HBase's filter
// language (ParseFilter), e.g. "SingleColumnValueFilter('cf1','area_number',=,'binary:F06')".
struct TScan {
  1: optional binary startRow,
  2: optional binary stopRow,
  3: optional list<TColumn> columns,
  4: optional i32 caching,
  5: optional i32 maxVersions = 1,
  6: optional TTimeRange timeRange,
  7: optional binary filterString,
  11: optional bool reversed,
  15: optional i32 limit
}

struct TTableName {
  1: optional binary ns,
  2: required binary qualifier
}

struct TColumnFamilyDescriptor {
  1: required binary name,
  10: optional i32 maxVersions
}

struct TTableDescriptor {
  1: required TTableName tableName,
  2: optional list<TColumnFamilyDescriptor> columns
}

struct THRegionInfo {
  1: required i64 regionId,
  2: required binary tableName,
  3: optional binary startKey,
  4: optional binary endKey
}

struct TServerName {
  1: required string hostName,
  2: optional i32 port,
  3: optional i64 startCode
}

struct THRegionLocation {
  1: required TServerName serverName,
  2: required THRegionInfo regionInfo
}

// An error inside HBase (region server, master, missing table...).
exception TIOError {
  1: optional string message
}

exception TIllegalArgument {
  1: optional string message
}

service THBaseService {
  bool exists(1: required binary table, 2: required TGet tget) throws (1: TIOError io)

  TResult get(1: required binary table, 2: required TGet tget) throws (1: TIOError io)

  void put(1: required binary table, 2: required TPut tput) throws (1: TIOError io)

  // All or nothing from the caller's view: a TIOError means some puts may
  // have been applied (they are retried; weir's puts are idempotent).
  void putMultiple(1: required binary table, 2: required list<TPut> tputs) throws (1: TIOError io)

  i32 openScanner(1: required binary table, 2: required TScan tscan) throws (1: TIOError io)

  list<TResult> getScannerRows(1: required i32 scannerId, 2: i32 numRows = 1)
    throws (1: TIOError io, 2: TIllegalArgument ia)

  void closeScanner(1: required i32 scannerId) throws (1: TIOError io, 2: TIllegalArgument ia)

  // Opens a scanner, reads up to numRows, closes it: one round trip.
  list<TResult> getScannerResults(1: required binary table, 2: required TScan tscan, 3: i32 numRows = 1)
    throws (1: TIOError io)

  list<THRegionLocation> getAllRegionLocations(1: required binary table) throws (1: TIOError io)

  bool tableExists(1: TTableName tableName) throws (1: TIOError io)

  // splitKeys: n-1 keys make n regions.
  void createTable(1: required TTableDescriptor desc, 2: list<binary> splitKeys) throws (1: TIOError io)

  void disableTable(1: required TTableName tableName) throws (1: TIOError io)

  void deleteTable(1: required TTableName tableName) throws (1: TIOError io)
}
