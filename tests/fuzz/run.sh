#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each, seeded from conformance/data.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Not run by CI.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET="${1:-60}"
root=../..
mkdir -p corpus/statement corpus/agent_param corpus/multipart corpus/alternate

# Seeds: every conformance Statement, agents taken from them, each wrapped in a
# multipart body and in an alternate-syntax form.
for file in "$root"/conformance/data/statements/*/*.json; do
  name=$(basename "$file" .json)
  cp "$file" "corpus/statement/$name"
  python3 - "$file" "$name" <<'PY'
import json, sys, urllib.parse
path, name = sys.argv[1], sys.argv[2]
text = open(path, 'rb').read()
try:
    value = json.loads(text)
except Exception:
    value = None
statements = value if isinstance(value, list) else [value]
for i, s in enumerate(statements):
    if isinstance(s, dict) and isinstance(s.get('actor'), dict):
        open(f'corpus/agent_param/{name}-{i}', 'w').write(json.dumps(s['actor']))
b = 'fuzzseed'
body = (f'--{b}\r\nContent-Type: application/json\r\n\r\n'.encode() + text +
        f'\r\n--{b}\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n'
        'X-Experience-API-Hash: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
        f'\r\n\r\nhello\r\n--{b}--\r\n'.encode())
open(f'corpus/multipart/{name}', 'wb').write(f'multipart/mixed; boundary={b}\n'.encode() + body)
form = urllib.parse.urlencode({'content': text.decode('utf-8', 'replace'),
                               'X-Experience-API-Version': '1.0.3',
                               'Authorization': 'Basic a2V5OnNlY3JldA==',
                               'Content-Type': 'application/json'})
open(f'corpus/alternate/{name}', 'w').write('method=PUT\n' + form + '&statementId=5bd1c5a8-0c40-4b0e-8b9f-1c2d3e4f5a6b')
PY
done

for target in statement agent_param multipart alternate; do
  echo "== $target: ${SECONDS_PER_TARGET}s"
  cargo +nightly fuzz run --fuzz-dir . "$target" "corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 2>&1 | tee "/tmp/fuzz-$target.log" | grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs|SUMMARY|panicked" || true
  grep -E "Done [0-9]+ runs" "/tmp/fuzz-$target.log" || { echo "$target did not finish cleanly"; exit 1; }
done
