#!/usr/bin/env bash
# Reproduces benches/RESULTS.md and benches/results.json: the criterion
# micro-benchmarks, then the HTTP load driver against the release server on an
# embedded PostgreSQL (target/bench-pg), store sizes 0 and 1,000,000.
#
#   bash benches/run.sh                 # the full run (about 40-50 minutes)
#   BENCH_10M=1 bash benches/run.sh     # also at 10,000,000 (two hours more, 45 GB)
#   BENCH_MERGE=benches/results-10m.json bash benches/run.sh
#                                       # the committed RESULTS.md: 0 and 1,000,000
#                                       # measured now, 10,000,000 carried over
#   BENCH_SIZES=0,20000 BENCH_SECONDS=2 bash benches/run.sh   # a quick smoke run
#
# Other settings (BENCH_CLIENTS, BENCH_QUERY_CLIENTS, BENCH_REUSE, BENCH_OUT, ...) are
# described at the top of benches/load/main.rs. Run it on a quiet machine: the driver,
# the server and PostgreSQL share its cores.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench micro
cargo bench --bench load
