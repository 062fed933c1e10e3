#!/usr/bin/env bash
# Writes the gzipped man page of an installed command from its own --help (help2man):
#   packaging/man-page.sh OUT.1.gz PROGRAM VERSION "ONE-LINE DESCRIPTION" [SUBCOMMAND...]
# With SUBCOMMANDs, each `PROGRAM SUB --help` follows the main help, so `man weir`
# shows the options of `weir run`, `weir ctl`, ... too. The commands print no
# --version of their own (besides weir), so VERSION is given.
set -euo pipefail
out=$1 program=$2 version=$3 description=$4
shift 4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
name=$(basename "$program")
# help2man runs NAME --help and takes the page's name from the file it runs.
cat >"$work/$name" <<SH
#!/bin/sh
"$program" --help
for sub in $*; do
  echo
  "$program" "\$sub" --help | sed 's/^usage: .*/&\n/'   # the usage line apart from the options heading
done
SH
chmod +x "$work/$name"
help2man --no-info --no-discard-stderr --version-string="$version" --name="$description" "$work/$name" >"$work/page.1"
gzip -9n <"$work/page.1" >"$out"
