// weir-overspeed DATE — the cars flagged for over-speeding on DATE (yyyyMMdd):
// the members of that day's Redis SET, sorted, as a table or JSON lines, with
// the key's TTL. The reader side of redis_sink's smart-car example (the
// original design's OverSpeedCarInfo).
//
// Exit codes: 0 listed (also when the day has no flagged car), 1 Redis could
// not be reached or answered an error, 2 bad usage.
#include <algorithm>
#include <boost/program_options.hpp>
#include <iostream>
#include <sstream>

#include "connection.hpp"
#include "overspeed_report.hpp"

namespace po = boost::program_options;
using weir::redis::Reply;

namespace {

int fail(const std::string& msg) {
  std::cerr << "weir-overspeed: " << msg << "\n";
  return 1;
}

std::vector<std::string> split_commas(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    std::stringstream in(item);
    for (std::string s; std::getline(in, s, ',');)
      if (!s.empty()) out.push_back(s);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string date, endpoint, master_name, username, password, key_template, details_template;
  std::vector<std::string> sentinels;
  int64_t database = 0, timeout_ms = 2000;
  bool json = false;
  po::options_description opts(
      "weir-overspeed DATE [options]\n\n"
      "Lists the cars flagged on DATE (yyyyMMdd): the members CAR-yyyyMMddHHmmss of that day's\n"
      "Redis SET, sorted, with the key's TTL.\n\nOptions");
  opts.add_options()("help,h", "this help")("endpoint", po::value(&endpoint)->default_value("127.0.0.1:6379"),
                                            "Redis server host:port (without sentinels)")(
      "sentinels", po::value(&sentinels)->multitoken(), "Sentinel host:port list (space or comma separated)")(
      "master-name", po::value(&master_name)->default_value(""), "the master the sentinels monitor")(
      "username", po::value(&username)->default_value(""), "ACL user")(
      "password", po::value(&password)->default_value(""), "AUTH password (or env REDISCLI_AUTH)")(
      "database", po::value(&database)->default_value(0), "database number")(
      "key-template", po::value(&key_template)->default_value("{date}"), "the day's key; {date} is DATE")(
      "details", po::value(&details_template)->default_value(""),
      "hash key per member to show with it (HGETALL), e.g. \"{date}:{member}\"; also {car_number}, {time14}")(
      "json", po::bool_switch(&json), "JSON lines instead of a table")(
      "timeout-ms", po::value(&timeout_ms)->default_value(2000), "connect and command timeout");
  po::options_description hidden;
  hidden.add_options()("date", po::value(&date));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("date", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "weir-overspeed: " << e.what() << "\n" << opts << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!weir::overspeed::valid_date(date)) {
    std::cerr << "weir-overspeed: DATE must be yyyyMMdd, e.g. 20160103" << (date.empty() ? "" : ", not '" + date + "'")
              << "\n";
    return 2;
  }
  if (password.empty())
    if (const char* env = std::getenv("REDISCLI_AUTH")) password = env;

  weir::redis::ConnectionOptions o;
  weir::overspeed::Report report;
  try {
    o.endpoint = weir::redis::parse_endpoint(endpoint);
    for (const auto& s : split_commas(sentinels)) o.sentinels.push_back(weir::redis::parse_endpoint(s, 26379));
    if (!o.sentinels.empty() && master_name.empty()) throw std::invalid_argument("--sentinels needs --master-name");
    report.key = weir::overspeed::expand(key_template, {{"date", date}});
    if (!details_template.empty())  // checked before any I/O
      weir::overspeed::expand(details_template, {{"date", date}, {"member", ""}, {"car_number", ""}, {"time14", ""}});
  } catch (const std::invalid_argument& e) {
    std::cerr << "weir-overspeed: " << e.what() << "\n";
    return 2;
  }
  o.master_name = master_name;
  o.username = username;
  o.password = password;
  o.database = database;
  o.connect_timeout_ms = timeout_ms;
  o.command_timeout_ms = timeout_ms;

  weir::redis::Connection conn(o);
  if (std::string why = conn.connect(); !why.empty()) return fail(why);

  // SSCAN rather than SMEMBERS: a big day does not block the server.
  std::vector<std::string> members;
  std::string cursor = "0";
  do {
    Reply r = conn.command({"SSCAN", report.key, cursor, "COUNT", "1000"});
    if (!r) return fail(conn.describe() + ": " + conn.error());
    if (r->type == REDIS_REPLY_ERROR) return fail("SSCAN " + report.key + ": " + weir::redis::reply_text(r.get()));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) return fail("unexpected SSCAN reply");
    cursor = weir::redis::reply_text(r->element[0]);
    for (size_t i = 0; i < r->element[1]->elements; ++i)
      members.push_back(weir::redis::reply_text(r->element[1]->element[i]));
  } while (cursor != "0");
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());  // SSCAN may repeat one

  Reply ttl = conn.command({"TTL", report.key});
  if (!ttl) return fail(conn.describe() + ": " + conn.error());
  if (ttl->type != REDIS_REPLY_INTEGER) return fail("TTL " + report.key + ": " + weir::redis::reply_text(ttl.get()));
  report.ttl_s = ttl->integer;

  for (const auto& m : members) report.cars.push_back(weir::overspeed::split_member(m));
  if (!details_template.empty() && !report.cars.empty()) {
    // One round trip for all of them.
    redisContext* c = conn.context();
    for (const auto& f : report.cars) {
      std::string key = weir::overspeed::expand(
          details_template, {{"date", date},
                             {"member", f.member},
                             {"car_number", f.car_number.value_or("")},
                             {"time14", f.member.substr(f.member.size() >= 14 ? f.member.size() - 14 : 0)}});
      const char* args[] = {"HGETALL", key.c_str()};
      size_t lens[] = {7, key.size()};
      redisAppendCommandArgv(c, 2, args, lens);
    }
    for (auto& f : report.cars) {
      void* raw = nullptr;
      if (redisGetReply(c, &raw) != REDIS_OK) return fail(conn.describe() + ": " + c->errstr);
      Reply r(static_cast<redisReply*>(raw));
      if (r->type == REDIS_REPLY_ERROR) return fail("HGETALL: " + weir::redis::reply_text(r.get()));
      for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        f.details[weir::redis::reply_text(r->element[i])] = weir::redis::reply_text(r->element[i + 1]);
    }
  }
  std::cout << (json ? weir::overspeed::json_lines(report) : weir::overspeed::table(report));
  return 0;
}
