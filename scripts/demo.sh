#!/usr/bin/env bash
# The main demo: sets up the machine, starts nats-server from nats/ and two Node-RED instances that
# exchange messages through our nodes (package installed from its packed tarball). Prints the editor
# URLs; Ctrl-C stops everything. The C++ examples have their own demo: scripts/demo-cpp.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec bash "$root/addon/scripts/demo.sh" "$@"
