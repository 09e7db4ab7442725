#!/usr/bin/env python3
"""Checks that every #include in the shipped code follows the layering of docs/architecture.md:
each folder may include only the folders below it. Run by ctest as Layering; exits 1 on a breach."""
import pathlib
import re
import sys

# What each folder may include (besides itself). Order matters: the first prefix that matches.
ALLOWED = [
    ("daemon/storage/", {"common", "keys", "proto", "daemon/storage"}),
    ("daemon/net/", {"common", "proto", "daemon/net"}),
    ("daemon/sync/", {"common", "keys", "proto", "daemon/net", "daemon/storage", "daemon/sync"}),
    ("daemon/match/", {"common", "keys", "proto", "daemon/storage", "daemon/match"}),
    ("daemon/api/", {"common", "keys", "proto", "daemon/storage", "daemon/match", "daemon/api"}),
    ("daemon/cli/", {"common", "keys", "proto", "daemon/cli"}),
    # The node wiring (daemon/*.cc|h) uses every wing but the CLI.
    ("daemon/", {"common", "keys", "proto", "daemon/storage", "daemon/net", "daemon/sync",
                 "daemon/match", "daemon/api", "daemon"}),
    ("keys/", {"common", "keys", "proto"}),
    ("common/", {"common", "proto"}),
]
# Headers a folder may not include although its layer may: the wings below the API return their
# own structs, and the API and the node render them as api.proto messages.
FORBIDDEN = [
    (("daemon/storage/", "daemon/net/", "daemon/sync/", "daemon/match/"), "proto/api.pb.h"),
]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(include):
    parts = include.split("/")
    if parts[0] == "daemon" and len(parts) > 2:
        return "daemon/" + parts[1]
    return parts[0]


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    breaches = []
    for path in sorted(root.glob("**/*")):
        rel = path.relative_to(root).as_posix()
        if path.suffix not in (".h", ".cc") or not rel.startswith(("common/", "keys/", "daemon/")):
            continue
        allowed = next(a for prefix, a in ALLOWED if rel.startswith(prefix))
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = INCLUDE.match(line)
            if m and layer_of(m.group(1)) not in allowed:
                breaches.append(f"{rel}:{n}: includes {m.group(1)} "
                                f"({layer_of(m.group(1))} is not below {rel.rsplit('/', 1)[0]})")
            elif m and any(rel.startswith(p) and m.group(1) == h for p, h in FORBIDDEN):
                breaches.append(f"{rel}:{n}: includes {m.group(1)} (this wing returns its own "
                                f"structs; the API renders them)")
    for b in breaches:
        print(b)
    print(f"layering: {len(breaches)} breach(es)")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
