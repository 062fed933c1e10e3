// A small synchronous client for HBase's Thrift2 gateway over Apache Thrift's
// C++ library: one socket, the transport and protocol of the gateway, and the
// calls weir needs. Shared by the hbase_sink plugin, weir-hbase and the bench.
//
// Errors are split by what the caller should do:
//  * TransportError: the connection is gone or in an unknown state (refused,
//    reset, timed out, garbled). The client has closed it; connect() again.
//  * ServerError: the gateway answered with an error (TIOError from HBase,
//    TIllegalArgument, TApplicationException). The connection stays usable.
#pragma once

#include <weir/endpoint.hpp>

#include "THBaseService.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace apache::thrift::transport {
class TTransport;
}

namespace weir::hbase {

namespace t2 = ::weir::hbase::thrift2;

enum class Transport { Buffered, Framed };
enum class Protocol { Binary, Compact };

// "buffered"/"framed" and "binary"/"compact"; std::invalid_argument otherwise.
Transport parse_transport(std::string_view text);
Protocol parse_protocol(std::string_view text);

// Server addresses: the SDK's, so every endpoint parameter reads the same.
using weir::Endpoint;
using weir::parse_endpoint;

// "ns:name" or "name" (namespace "default").
t2::TTableName table_name(std::string_view text);

struct ClientOptions {
  Endpoint endpoint;
  Transport transport = Transport::Buffered;
  Protocol protocol = Protocol::Binary;
  int connect_timeout_ms = 5000;
  int timeout_ms = 60000;            // send/receive, per call
  int buffer_bytes = 64 * 1024;      // buffered transport's read/write buffers
};

struct TransportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct ServerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Opens the socket (no call is made). Throws TransportError.
  void connect();
  void close() noexcept;
  bool connected() const { return api_ != nullptr; }
  const ClientOptions& options() const { return options_; }

  void put(const std::string& table, const t2::TPut& put);
  void put_multiple(const std::string& table, const std::vector<t2::TPut>& puts);
  t2::TResult get(const std::string& table, const t2::TGet& get);

  // Runs a scan through openScanner/getScannerRows/closeScanner, page_rows
  // rows per round trip, calling on_row until it returns false or rows run out.
  void scan(const std::string& table, const t2::TScan& scan, int page_rows,
            const std::function<bool(const t2::TResult&)>& on_row);

  bool table_exists(const std::string& table);
  // One family per entry; split_keys: n-1 keys make n regions.
  void create_table(const std::string& table, const std::vector<std::string>& families,
                    const std::vector<std::string>& split_keys);
  void drop_table(const std::string& table);  // disable + delete
  // Start keys of the table's regions, in key order ("" for the first).
  std::vector<std::string> region_start_keys(const std::string& table);

 private:
  template <class F>
  auto call(const char* what, F&& f) -> decltype(f(std::declval<t2::THBaseServiceClient&>()));

  ClientOptions options_;
  std::shared_ptr<apache::thrift::transport::TTransport> transport_;
  std::unique_ptr<t2::THBaseServiceClient> api_;
  bool answered_ = false;  // the gateway has answered a call on this connection
};

}  // namespace weir::hbase
