// redis_sink — Redis commands from templates, pipelined over hiredis, per record.
// Registration only; the logic is in sink.cpp, command_template.cpp, connection.cpp.
#include <weir/delivery.hpp>
#include <weir/sdk.hpp>

#include "sink.hpp"

namespace {

const weir_port_spec kInputs[] = {{"in", "records; each one becomes one command per template"}};
const weir_param_spec kOwnParams[] = {
    {"commands", WEIR_PARAM_STRING_LIST, nullptr, 1, weir::kTemplateUnit,
     "command templates, e.g. \"SADD {date[0:8]} {car_number}-{date}\" (docs/templates.md); {var} from vars"},
    {"vars", WEIR_PARAM_TABLE, "{}", 0, nullptr, "constants for the templates: name = \"value\" gives {name}"},
    {"ttl_s", WEIR_PARAM_INT, "604800", 0, "s",
     "a constant for the templates as {ttl_s} (e.g. EXPIRE {key} {ttl_s}); one week"},
    {"endpoint", WEIR_PARAM_STRING, "\"127.0.0.1:6379\"", 0, nullptr,
     "host:port, [ipv6]:port or unix:/path of the Redis server (without sentinels)"},
    {"sentinels", WEIR_PARAM_STRING_LIST, "[]", 0, nullptr,
     "host:port of Redis Sentinels; with master_name, the master they name is used instead of endpoint"},
    {"master_name", WEIR_PARAM_STRING, "\"\"", 0, nullptr, "the master the sentinels monitor"},
    {"username", WEIR_PARAM_STRING, "\"\"", 0, nullptr, "ACL user (AUTH username password); empty: the default user"},
    {"password", WEIR_PARAM_STRING, "\"\"", 0, nullptr, "AUTH password; empty: no AUTH"},
    {"sentinel_password", WEIR_PARAM_STRING, "\"\"", 0, nullptr, "AUTH password of the sentinels; empty: no AUTH"},
    {"database", WEIR_PARAM_INT, "0", 0, nullptr, "database number (SELECT)"},
    {"connect_timeout_ms", WEIR_PARAM_INT, "2000", 0, "ms", "TCP connect (and handshake) timeout, per server tried"},
    {"command_timeout_ms", WEIR_PARAM_INT, "5000", 0, "ms",
     "longest wait for a reply (socket send/receive timeout); 0 = none. A timeout drops the connection and retries"},
    {"pipeline_max", WEIR_PARAM_INT, "4096", 0, "commands",
     "commands sent before their replies are read (per round trip)"},
    {"wait_replicas", WEIR_PARAM_INT, "0", 0, "replicas",
     "report a request stored only once this many replicas have it (WAIT); 1 makes a failover lose nothing"},
    {"wait_timeout_ms", WEIR_PARAM_INT, "1000", 0, "ms", "WAIT timeout; fewer replicas by then: the request is retried"},
};
constexpr auto kParams = weir::with_delivery_params(kOwnParams);

}  // namespace

WEIR_PLUGIN(weir::redis::RedisSink,
            (weir::PluginInfo{
                .name = "redis_sink",
                .version = "1.1.0",
                .description = "Redis commands from templates per record, pipelined (hiredis), with Sentinel failover",
                .kind = WEIR_SINK,
                .inputs = kInputs,
                .params = kParams,
            }))
