#!/usr/bin/env bash
# `make run` to a trained demo, for one or more commits: seconds from the command's start until the server
# answers /admin/login/, and until the demo model is in `production` (polled in the SQLite file every
# second). Each commit runs in a fresh worktree with an empty var/, sharing this checkout's venv (its
# pyproject is dated back so make does not reinstall). Run with nothing else on the machine:
#
#     bench/make_run_timing.sh HEAD 6c4f375 [...]      # one line per commit on stdout
#
# The demo trains for ATELIER_DEMO_BUDGET_SECONDS (300 s); the rest is migrations, the corpus, the snapshot,
# data preparation, evaluation and registration. The training run's events (steps, tokens/s) stay in each
# worktree's var/atelier.sqlite3 until the next call.
set -u
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
port=${PORT:-8123}
for c in "$@"; do
  wt=/tmp/make-run-$(git -C "$root" rev-parse --short "$c")
  git -C "$root" worktree remove --force "$wt" 2>/dev/null
  rm -rf "$wt"
  git -C "$root" worktree prune
  git -C "$root" worktree add -q --detach "$wt" "$c"
  ln -s "$root/.venv" "$wt/.venv"
  touch -d 2000-01-01 "$wt/pyproject.toml"
  cd "$wt" || exit 1
  unset DATABASE_URL REDIS_URL RABBITMQ_URL ATELIER_VAR_DIR
  t0=$(date +%s.%N) up="" done_t=""
  setsid make run ADDR=127.0.0.1:$port > "$wt/run.log" 2>&1 &
  group=$!
  for _ in $(seq 1800); do
    sleep 1
    now=$(date +%s.%N)
    if [ -z "$up" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/admin/login/")" = 200 ]; then
      up=$(echo "$now - $t0" | bc)
    fi
    if [ -f var/atelier.sqlite3 ] && [ "$(sqlite3 -readonly var/atelier.sqlite3 \
        "select count(*) from training_modelalias where name='production'" 2>/dev/null)" = 1 ]; then
      done_t=$(echo "$now - $t0" | bc)
      break
    fi
  done
  echo "$c server_up_s=${up:-none} production_s=${done_t:-none}"
  kill -- -"$group" 2>/dev/null
  sleep 5
  kill -9 -- -"$group" 2>/dev/null
  cd "$root" || exit 1
done
