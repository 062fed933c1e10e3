#!/usr/bin/env python3
"""Reads FILE as JSON lines, strictly, and prints each line again as canonical
ASCII JSON (sorted keys, no spaces, non-ASCII as \\uXXXX) for exact comparison.

Strict: every line must decode as UTF-8 (RFC 3629: no invalid bytes, overlong
forms or encoded surrogates) and parse as one JSON object (no NaN/Infinity, no
raw control characters in strings); no string may hold a lone surrogate
escape (\\udc80), which is not text in any encoding. Exits 1 at the first
offence, naming the line."""
import json
import sys


def no_constants(name):
    raise ValueError(f"non-standard constant {name}")


def check_text(value, where):
    if isinstance(value, str):
        value.encode("utf-8")  # raises on a lone surrogate
    elif isinstance(value, dict):
        for k, v in value.items():
            check_text(k, where)
            check_text(v, where)
    elif isinstance(value, list):
        for v in value:
            check_text(v, where)


def main(path):
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        sys.exit(f"{path}: the last line has no newline")
    for number, raw in enumerate(data.split(b"\n")[:-1], start=1):
        try:
            text = raw.decode("utf-8", errors="strict")
            obj = json.loads(text, parse_constant=no_constants)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
            check_text(obj, number)
        except (UnicodeError, ValueError) as e:
            sys.exit(f"{path}:{number}: {e}: {raw!r}")
        print(json.dumps(obj, ensure_ascii=True, sort_keys=True, separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv[1])
