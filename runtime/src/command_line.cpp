#include "command_line.hpp"

#include <iostream>

namespace po = boost::program_options;

namespace weir {

constexpr int kExitOk = 0, kExitUsage = 64;

std::optional<int> parse_command_line(const std::vector<std::string>& argv, const po::options_description& desc,
                                      const std::string& prog, const std::string& usage, const po::options_description& hidden,
                                      Positional positional) {
  po::options_description all = desc;
  all.add_options()("help,h", "show this help");
  all.add(hidden);
  po::positional_options_description pos;
  if (positional.name) pos.add(positional.name, positional.max);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << prog << ": " << e.what() << "\n" << usage << "\n" << desc;
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << usage << "\n" << desc;
    return kExitOk;
  }
  return std::nullopt;
}

void add_admin_options(po::options_description& desc, std::string& admin, std::string& token) {
  desc.add_options()("admin", po::value(&admin),
                     "admin address of the running weir: HOST:PORT or [IPv6]:PORT (default $WEIR_ADMIN or 127.0.0.1:9464)")(
      "token", po::value(&token), "bearer token (default $WEIR_ADMIN_TOKEN)");
}

}  // namespace weir
