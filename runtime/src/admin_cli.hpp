// Client commands of the admin endpoint beside `weir ctl`: `weir tap` and `weir top`.
#pragma once

#include <string>
#include <vector>

// weir tap [--admin HOST:PORT] [--token T] [--rate R] [--count N] [--metadata] NODE[.PORT]  (tap_cli.cpp)
int cmd_tap(const std::vector<std::string>& argv);
// weir top [--admin HOST:PORT] [--interval S] [--once]  (top_cli.cpp)
int cmd_top(const std::vector<std::string>& argv);
