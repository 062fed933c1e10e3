// hbase_sink — registration: ports, parameters, descriptor. Logic in sink.cpp.
#include "sink.hpp"

#include <weir/delivery.hpp>

namespace {

const weir_port_spec kInputs[] = {{"in", "records to store, one row each"}};
const weir_param_spec kOwnParams[] = {
    {"endpoint", WEIR_PARAM_STRING, nullptr, 1, nullptr, "HBase Thrift2 gateway, host:port"},
    {"transport", WEIR_PARAM_STRING, "\"buffered\"", 0, nullptr, "buffered or framed: must match the gateway (hbase.regionserver.thrift.framed)"},
    {"protocol", WEIR_PARAM_STRING, "\"binary\"", 0, nullptr, "binary or compact: must match the gateway (hbase.regionserver.thrift.compact)"},
    {"table", WEIR_PARAM_STRING, nullptr, 1, nullptr, "table name, or namespace:name"},
    {"row_key", WEIR_PARAM_STRING, nullptr, 1, weir::kTemplateUnit, "row key template, e.g. \"{date|reverse}-{car_number}\" (docs/templates.md)"},
    {"column_family", WEIR_PARAM_STRING, nullptr, 1, nullptr, "column family of the cells (e.g. \"cf1\")"},
    {"columns", WEIR_PARAM_STRING_LIST, "[]", 0, weir::kTemplateUnit,
     "cells: \"qualifier={template}\", \"family:qualifier={template}\" or a field name; [] = every non-null field"},
    {"missing_columns", WEIR_PARAM_STRING, "\"skip\"", 0, nullptr,
     "a cell whose field is missing or null: skip (leave the cell out) or reject (record to the error port)"},
    {"timestamp_field", WEIR_PARAM_STRING, "\"_time\"", 0, nullptr,
     "cell timestamp: _time = event time, or a field name; \"\" = HBase's clock (not idempotent)"},
    {"timestamp_format", WEIR_PARAM_STRING, "\"\"", 0, nullptr,
     "how to read timestamp_field: epoch_s|epoch_ms|epoch_us|epoch_ns or a strptime format (UTC); \"\" = auto"},
    {"batch_size", WEIR_PARAM_INT, "1000", 0, "records", "puts per putMultiple call (a larger request is split)"},
    {"connections", WEIR_PARAM_INT, "1", 0, nullptr, "connections writing the chunks of one batch in parallel"},
    {"connect_timeout_ms", WEIR_PARAM_INT, "5000", 0, "ms", "TCP connect timeout"},
    {"timeout_ms", WEIR_PARAM_INT, "60000", 0, "ms", "send/receive timeout of one call; then reconnect and retry"},
    {"create_table", WEIR_PARAM_BOOL, "false", 0, nullptr, "create the table (with column_family) if it does not exist"},
    {"regions", WEIR_PARAM_INT, "1", 0, nullptr, "create_table: pre-split into this many regions (HexStringSplit)"},
};
constexpr auto kParams = weir::with_delivery_params(kOwnParams);

}  // namespace

WEIR_PLUGIN(weir::hbase::HBaseSink, (weir::PluginInfo{
                                        .name = "hbase_sink",
                                        .version = "1.1.0",
                                        .description = "writes records as HBase rows through the Thrift2 gateway (batched putMultiple)",
                                        .kind = WEIR_SINK,
                                        .inputs = kInputs,
                                        .params = kParams,
                                    }))
