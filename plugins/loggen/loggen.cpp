// loggen — the smart-car driving-log generator as a source: one CSV line per
// car per simulated second (payload), keyed by car number, event time = the
// line's timestamp (UTC). The simulation lives in driver_log.cpp.
#include "driver_log.hpp"

#include <weir/sdk.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace {

const weir_port_spec kOutputs[] = {{"out", "one driving-log line per record (payload), key = car number"}};
const weir_param_spec kParams[] = {
    {"date", WEIR_PARAM_STRING, nullptr, 1, nullptr, "simulated start date, yyyyMMdd"},
    {"cars", WEIR_PARAM_INT, "100", 0, "cars", "number of cars, 1..9999"},
    {"seconds", WEIR_PARAM_INT, "0", 0, "s", "simulated seconds to generate (cars lines each); 0 = until stopped"},
    {"rate", WEIR_PARAM_INT, "0", 0, "lines/s", "pace in lines per real second (= cars for real time); 0 = as fast as possible"},
    {"seed", WEIR_PARAM_INT, "1", 0, nullptr, "random seed: the same seed gives the same lines"},
    {"speeding_share", WEIR_PARAM_DOUBLE, "0.1", 0, nullptr, "share of wild cars averaging ~160 km/h (0..1)"},
    {"start_time", WEIR_PARAM_STRING, "\"now\"", 0, nullptr,
     "simulated time of day of the first second, HHmmss (UTC); \"now\" = the current time of day"},
    {"headers", WEIR_PARAM_BOOL, "false", 0, nullptr,
     "first emit one \"Driver Status Infomation,<CarNum>\" header line per car, like the original generator"},
    {"batch_size", WEIR_PARAM_INT, "1024", 0, "records", "lines per emitted batch"},
};

class Loggen : public weir::Plugin {
 public:
  Loggen(weir::Context ctx, const weir::Params& p) : ctx_(ctx) {
    weir::loggen::Options o;
    try {
      o.date_days = weir::loggen::parse_date(p.str("date"));
      o.start_seconds = weir::loggen::parse_start_time(p.str("start_time"));
      int64_t cars = p.integer("cars");
      if (cars < 1 || cars > 9999) throw std::invalid_argument("cars must be 1..9999 (CarNum has 4 digits), not " + std::to_string(cars));
      o.cars = static_cast<int32_t>(cars);
      o.seed = static_cast<uint64_t>(p.integer("seed"));
      o.speeding_share = p.number("speeding_share");
      o.headers = p.boolean("headers");
      weir::loggen::check(o);
    } catch (const std::invalid_argument& e) {
      throw weir::ConfigError(e.what());
    }
    options_ = o;
    seconds_ = p.integer("seconds");
    rate_ = p.integer("rate");
    batch_size_ = p.integer("batch_size");
    if (seconds_ < 0) throw weir::ConfigError("seconds must be >= 0");
    if (rate_ < 0) throw weir::ConfigError("rate must be >= 0");
    if (batch_size_ < 1 || batch_size_ > 1'000'000) throw weir::ConfigError("batch_size must be 1..1000000");
    out_ = ctx_.port("out");
  }

  weir_status open() override {
    log_ = std::make_unique<weir::loggen::DriverLog>(options_);
    start_ = std::chrono::steady_clock::now();
    return WEIR_OK;
  }

  weir_status poll() override {
    if (done()) return WEIR_END;
    int64_t n = batch_size_;
    if (rate_ > 0) {
      double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      int64_t allowed = static_cast<int64_t>(elapsed * static_cast<double>(rate_)) - static_cast<int64_t>(log_->lines());
      if (allowed <= 0) return WEIR_IDLE;
      n = std::min(n, allowed);
    }
    weir::BatchBuilder b = ctx_.batch(static_cast<uint32_t>(n));
    for (int64_t i = 0; i < n && !done(); ++i) {
      const weir::loggen::Line& line = log_->next();
      weir::RecordBuilder r = b.add();
      r.key(line.car).payload(line.text).event_time_ns(line.event_time_ns);
      r.position(0, static_cast<int64_t>(log_->lines() - 1));
    }
    return ctx_.emit(out_, b) == WEIR_STOPPING ? WEIR_END : WEIR_OK;
  }

 private:
  bool done() const {
    return seconds_ > 0 && log_->at_second_boundary() && log_->seconds_done() >= static_cast<uint64_t>(seconds_) &&
           log_->lines() > 0;
  }

  weir::Context ctx_;
  weir::loggen::Options options_;
  int64_t seconds_ = 0, rate_ = 0, batch_size_ = 0;
  int32_t out_ = -1;
  std::unique_ptr<weir::loggen::DriverLog> log_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

WEIR_PLUGIN(Loggen, (weir::PluginInfo{
                        .name = "loggen",
                        .version = "1.0.0",
                        .description = "smart-car driving-log generator (DriverLogMain): one CSV line per car per simulated second",
                        .kind = WEIR_SOURCE,
                        .outputs = kOutputs,
                        .params = kParams,
                    }))
