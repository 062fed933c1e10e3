// The options of one `weir` command, parsed in one place (run, validate,
// graph, plugins, ctl, tap, top): --help, the messages of a bad option and the
// exit codes are the same for every command.
#pragma once

#include <boost/program_options.hpp>

#include <optional>
#include <string>
#include <vector>

namespace weir {

// The positional arguments of a command: bound to the (hidden) option NAME, at most MAX of them (-1: any).
struct Positional {
  const char* name = nullptr;
  int max = 0;
};

// Parses ARGV against DESC (the options --help shows) plus --help itself and
// HIDDEN (the positional option, if any). Returns nullopt when the command
// goes on, else its exit code: 0 after --help (USAGE and DESC on stdout), 64
// after a bad option ("PROG: what is wrong", USAGE and DESC on stderr).
std::optional<int> parse_command_line(const std::vector<std::string>& argv, const boost::program_options::options_description& desc,
                                      const std::string& prog, const std::string& usage,
                                      const boost::program_options::options_description& hidden = {},
                                      Positional positional = {});

// --admin HOST:PORT and --token T, of the commands that talk to a running weir (ctl, tap, top).
void add_admin_options(boost::program_options::options_description& desc, std::string& admin, std::string& token);

}  // namespace weir
