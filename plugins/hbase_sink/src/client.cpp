#include "client.hpp"

#include <thrift/TApplicationException.h>
#include <thrift/TOutput.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>
#include <thrift/transport/TTransportException.h>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <type_traits>

namespace weir::hbase {

using apache::thrift::TApplicationException;
using apache::thrift::TException;
using apache::thrift::protocol::TProtocolException;
using apache::thrift::transport::TTransportException;

Transport parse_transport(std::string_view text) {
  if (text == "buffered") return Transport::Buffered;
  if (text == "framed") return Transport::Framed;
  throw std::invalid_argument("transport must be \"buffered\" or \"framed\", not \"" + std::string(text) + "\"");
}

Protocol parse_protocol(std::string_view text) {
  if (text == "binary") return Protocol::Binary;
  if (text == "compact") return Protocol::Compact;
  throw std::invalid_argument("protocol must be \"binary\" or \"compact\", not \"" + std::string(text) + "\"");
}

t2::TTableName table_name(std::string_view text) {
  t2::TTableName name;
  size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    name.__set_ns(std::string(text.substr(0, colon)));
    name.qualifier = std::string(text.substr(colon + 1));
  } else {
    name.qualifier = std::string(text);
  }
  return name;
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
  // libthrift prints every socket error to stderr; errors reach our callers as
  // exceptions, and the host does the logging.
  static std::once_flag quiet;
  std::call_once(quiet, [] { apache::thrift::GlobalOutput.setOutputFunction([](const char*) {}); });
}
Client::~Client() { close(); }

void Client::connect() {
  namespace tt = apache::thrift::transport;
  namespace tp = apache::thrift::protocol;
  close();
  auto socket = std::make_shared<tt::TSocket>(options_.endpoint.host, options_.endpoint.port);
  socket->setConnTimeout(options_.connect_timeout_ms);
  socket->setRecvTimeout(options_.timeout_ms);
  socket->setSendTimeout(options_.timeout_ms);
  socket->setNoDelay(true);
  std::shared_ptr<tt::TTransport> transport;
  if (options_.transport == Transport::Framed)
    transport = std::make_shared<tt::TFramedTransport>(socket);
  else
    transport = std::make_shared<tt::TBufferedTransport>(socket, options_.buffer_bytes, options_.buffer_bytes);
  std::shared_ptr<tp::TProtocol> protocol;
  if (options_.protocol == Protocol::Compact)
    protocol = std::make_shared<tp::TCompactProtocol>(transport);
  else
    protocol = std::make_shared<tp::TBinaryProtocol>(transport);
  try {
    transport->open();
  } catch (const TException& e) {
    throw TransportError("cannot connect to HBase Thrift2 gateway at " + options_.endpoint.str() + ": " + e.what());
  }
  transport_ = std::move(transport);
  answered_ = false;
  api_ = std::make_unique<t2::THBaseServiceClient>(protocol);
}

void Client::close() noexcept {
  api_.reset();
  if (transport_) {
    try {
      transport_->close();
    } catch (...) {
    }
    transport_.reset();
  }
}

template <class F>
auto Client::call(const char* what, F&& f) -> decltype(f(std::declval<t2::THBaseServiceClient&>())) {
  if (!api_) connect();
  auto fail = [&](const std::string& kind, const char* msg) {
    return std::string(what) + " on " + options_.endpoint.str() + ": " + kind + msg;
  };
  // A gateway that never answered the first call on a connection often speaks
  // another transport/protocol (it waits for more bytes, or hangs up).
  const char* hint = answered_ ? "" : " (first call on this connection: do transport and protocol match the gateway's?)";
  try {
    if constexpr (std::is_void_v<decltype(f(*api_))>) {
      f(*api_);
      answered_ = true;
    } else {
      auto r = f(*api_);
      answered_ = true;
      return r;
    }
  } catch (const t2::TIOError& e) {
    answered_ = true;
    throw ServerError(fail("HBase error: ", e.message.c_str()));
  } catch (const t2::TIllegalArgument& e) {
    answered_ = true;
    throw ServerError(fail("illegal argument: ", e.message.c_str()));
  } catch (const TApplicationException& e) {
    // The gateway sent a proper error reply, so the stream is still in sync.
    answered_ = true;
    throw ServerError(fail("gateway error: ", e.what()));
  } catch (const TTransportException& e) {
    close();
    throw TransportError(fail("connection lost: ", e.what()) + hint);
  } catch (const TProtocolException& e) {
    close();
    throw TransportError(fail("protocol error: ", e.what()) + hint);
  } catch (const TException& e) {
    close();
    throw TransportError(fail("thrift error: ", e.what()) + hint);
  }
}

void Client::put(const std::string& table, const t2::TPut& put) {
  call("put", [&](t2::THBaseServiceClient& c) { c.put(table, put); });
}

void Client::put_multiple(const std::string& table, const std::vector<t2::TPut>& puts) {
  call("putMultiple", [&](t2::THBaseServiceClient& c) { c.putMultiple(table, puts); });
}

t2::TResult Client::get(const std::string& table, const t2::TGet& get) {
  return call("get", [&](t2::THBaseServiceClient& c) {
    t2::TResult r;
    c.get(r, table, get);
    return r;
  });
}

void Client::scan(const std::string& table, const t2::TScan& scan, int page_rows,
                  const std::function<bool(const t2::TResult&)>& on_row) {
  int32_t id = call("openScanner", [&](t2::THBaseServiceClient& c) { return c.openScanner(table, scan); });
  bool more = true;
  try {
    std::vector<t2::TResult> page;
    while (more) {
      page.clear();
      call("getScannerRows", [&](t2::THBaseServiceClient& c) { c.getScannerRows(page, id, page_rows); });
      if (page.empty()) break;
      for (const auto& r : page)
        if (!on_row(r)) {
          more = false;
          break;
        }
    }
  } catch (...) {
    if (connected()) try {
        call("closeScanner", [&](t2::THBaseServiceClient& c) { c.closeScanner(id); });
      } catch (...) {
      }
    throw;
  }
  call("closeScanner", [&](t2::THBaseServiceClient& c) { c.closeScanner(id); });
}

bool Client::table_exists(const std::string& table) {
  return call("tableExists", [&](t2::THBaseServiceClient& c) { return c.tableExists(table_name(table)); });
}

void Client::create_table(const std::string& table, const std::vector<std::string>& families,
                          const std::vector<std::string>& split_keys) {
  t2::TTableDescriptor desc;
  desc.tableName = table_name(table);
  std::vector<t2::TColumnFamilyDescriptor> cfs;
  for (const auto& f : families) {
    t2::TColumnFamilyDescriptor cf;
    cf.name = f;
    cfs.push_back(cf);
  }
  desc.__set_columns(cfs);
  call("createTable", [&](t2::THBaseServiceClient& c) { c.createTable(desc, split_keys); });
}

void Client::drop_table(const std::string& table) {
  call("disableTable", [&](t2::THBaseServiceClient& c) { c.disableTable(table_name(table)); });
  call("deleteTable", [&](t2::THBaseServiceClient& c) { c.deleteTable(table_name(table)); });
}

std::vector<std::string> Client::region_start_keys(const std::string& table) {
  std::vector<t2::THRegionLocation> locations;
  call("getAllRegionLocations", [&](t2::THBaseServiceClient& c) { c.getAllRegionLocations(locations, table); });
  std::vector<std::string> keys;
  for (const auto& l : locations) keys.push_back(l.regionInfo.startKey);
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace weir::hbase
