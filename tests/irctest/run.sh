#!/usr/bin/env bash
# Runs the irctest server tests of docs/IRC.md against stxchat's IRC gateway.
#   tests/irctest/run.sh /path/to/irctest [extra pytest args...]
# The irctest checkout must have its Python requirements installed
# (pip install -r requirements.txt). Builds stxchat in release mode first,
# unless STXCHAT_BIN names the binary to test.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
irctest="${1:?usage: run.sh IRCTEST_CHECKOUT [pytest args...]}"
shift
if [ -z "${STXCHAT_BIN:-}" ]; then
  (cd "$repo" && cargo build --release --quiet)
  export STXCHAT_BIN="$repo/target/release/stxchat"
fi
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
modules=(connection_registration pingpong join part messages names quit kick topic
         isupport regressions buffering who cap utf8)
files=()
for m in "${modules[@]}"; do files+=("irctest/server_tests/$m.py"); done
cd "$irctest"
exec python3 -m pytest -p no:cacheprovider --controller stxchat_irctest \
    -m 'not services and not implementation-specific and not deprecated and not strict' \
    "${files[@]}" "$@"
