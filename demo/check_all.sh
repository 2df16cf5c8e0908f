#!/usr/bin/env bash
# Sweep every demo scenario over every installed interpreter: start it with --ready on a
# regular file and on a FIFO, check the readiness JSON arrives (and names live processes),
# SIGTERM the root and check that no process of the scenario is left.
# Prints a table scenario x interpreter: "file/fifo" seconds-to-ready, FAIL, or n/a.
#
#   demo/check_all.sh                              # everything
#   VERSIONS="3.12.1" SCENARIOS="abba mp_abba" MODES=fifo demo/check_all.sh
#
# Exit code: 0 if every cell is ok or n/a, 1 otherwise.
set -u
cd "$(dirname "$0")/.." || exit 2

PYENV_VERSIONS=${PYENV_VERSIONS:-/root/.pyenv/versions}
VERSIONS=${VERSIONS:-"2.7.18 3.8.18 3.9.18 3.10.13 3.11.7 3.12.1 3.13.0"}
SCENARIOS=${SCENARIOS:-"healthy logging_fork contention killed_worker manager_gone abba
  executor executor/spawn oversubscribed mp_abba dead_holder plain_lock condition nested_lock
  pool_size pool_size/spin pool_size/blocked pool_size/half deep_global_abba"}
MODES=${MODES:-"file fifo"}
READY_TIMEOUT=${READY_TIMEOUT:-15}     # seconds
GONE_TIMEOUT=${GONE_TIMEOUT:-3}        # seconds after SIGTERM
CHECK_PY=${CHECK_PY:-python3}          # any Python 3, only parses the JSON

tmp=$(mktemp -d /tmp/demo-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=()

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

descendants() {
  local kid
  for kid in $(pgrep -P "$1"); do echo "$kid"; descendants "$kid"; done
}

alive() {  # exists and is not a zombie
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

scenario_args() {  # "pool_size/spin" -> "demo/pool_size.py --mode spin"
  local name=${1%%/*} variant=${1#*/}
  if [ "$name" = "$1" ]; then echo "demo/$name.py"; return; fi
  case $name in
    pool_size) echo "demo/$name.py --mode $variant" ;;
    executor) echo "demo/$name.py --method $variant" ;;
    *) echo "demo/$name.py" ;;
  esac
}

validate() {  # json_file scenario root_pid descendant_pids...
  "$CHECK_PY" - "$@" <<'EOF'
import json, os, sys
path, scenario, root = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = set(int(p) for p in sys.argv[4:]) | {root}
with open(path) as f:
    text = f.read()
assert text.endswith("\n") and text.count("\n") == 1, "not exactly one line: %r" % text[:200]
d = json.loads(text)
assert "error" not in d, d.get("error")
assert d["scenario"] == scenario.split("/")[0], d["scenario"]
assert d["pid"] == root, (d["pid"], root)
for key in ("python", "start_method", "truth", "demo_threads"):
    assert key in d, "missing " + key

def pids(node, key=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from pids(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from pids(v, key)
    elif isinstance(node, int) and not isinstance(node, bool) and (
            key == "pid" or key.endswith("_pid") or key.endswith("_pids")):
        yield key, node

for key, pid in pids(d["truth"]):
    if key in ("killed_pid", "manager_pid"):            # killed and reaped by the scenario
        assert not os.path.exists("/proc/%d" % pid), "%s %d is still there" % (key, pid)
    elif key != "original_worker_pids":                 # includes the killed one
        assert pid in family, "%s %d is not a live process of the scenario" % (key, pid)
EOF
}

run_one() {  # version scenario mode -> echoes "ok SECONDS" | "na" | "FAIL reason"
  local version=$1 scenario=$2 mode=$3
  local py=$PYENV_VERSIONS/$version/bin/python
  local ready=$tmp/ready.$mode log=$tmp/log out=$tmp/out pid start t kids k deadline left
  rm -f "$ready" "$out"
  [ "$mode" = fifo ] && mkfifo "$ready"
  start=$(now)
  # shellcheck disable=SC2046
  "$py" $(scenario_args "$scenario") --ready "$ready" --lifetime 120 >"$log" 2>&1 &
  pid=$!
  if [ "$mode" = fifo ]; then
    timeout "$READY_TIMEOUT" cat "$ready" >"$out"
  else
    deadline=$(( $(date +%s) + READY_TIMEOUT ))
    until grep -q '}$' "$ready" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ] \
          || ! kill -0 "$pid" 2>/dev/null; do
      sleep 0.01
    done
    cp "$ready" "$out" 2>/dev/null
  fi
  t=$(elapsed "$start")
  if [ ! -s "$out" ] && grep -q "needs Python 3.8" "$log"; then
    wait "$pid" 2>/dev/null
    echo "na"; return
  fi
  kids=$(descendants "$pid")
  local problem=""
  # shellcheck disable=SC2086
  problem=$(validate "$out" "$scenario" "$pid" $kids 2>&1 | tail -n 1) || true
  kill -TERM "$pid" 2>/dev/null
  deadline=$(( $(date +%s%N) + GONE_TIMEOUT * 1000000000 ))
  while :; do
    left=""
    for k in $pid $kids; do alive "$k" && left="$left $k"; done
    [ -z "$left" ] || [ "$(date +%s%N)" -ge "$deadline" ] && break
    sleep 0.05
  done
  if [ -n "$left" ]; then
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null
    problem="${problem:+$problem; }left after SIGTERM:$left"
  fi
  wait "$pid" 2>/dev/null
  if [ -n "$problem" ]; then
    echo "FAIL $problem | $(tail -n 2 "$log" | tr '\n' ' ' | cut -c1-200)"
  else
    echo "ok $t"
  fi
}

printf '%-20s' "scenario"
for v in $VERSIONS; do printf ' %-11s' "$v"; done
printf '   (seconds to ready: %s)\n' "${MODES// //}"
for s in $SCENARIOS; do
  printf '%-20s' "$s"
  for v in $VERSIONS; do
    if [ ! -x "$PYENV_VERSIONS/$v/bin/python" ]; then printf ' %-11s' "-"; continue; fi
    cell=""
    for m in $MODES; do
      r=$(run_one "$v" "$s" "$m")
      case $r in
        ok*) part=${r#ok } ;;
        na) part="n/a" ;;
        *) part="FAIL"; failures+=("$s $v $m: ${r#FAIL }") ;;
      esac
      cell="${cell:+$cell/}$part"
    done
    case $cell in n/a/n/a) cell="n/a" ;; esac
    printf ' %-11s' "$cell"
  done
  echo
done
if [ ${#failures[@]} -gt 0 ]; then
  echo
  printf 'FAIL %s\n' "${failures[@]}"
  exit 1
fi
