#!/usr/bin/env bash
# Starts a three-node hashmesh federation on loopback (alice - bob - carol, in a line), with keys,
# a shared trust store and free ports, publishes a signal on alice and shows carol matching it
# through bob. The nodes keep running until Ctrl-C. Data lives in ./federation-data (reused on
# the next run; delete it for a fresh federation). Needs build/bin (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bin
dir=${HASHMESH_DEMO_DIR:-federation-data}
names=(alice bob carol)
mkdir -p "$dir"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Keys and trust store, once.
if [ ! -f "$dir/trust.toml" ]; then
  for n in "${names[@]}"; do
    "$bin/hashmesh-keys" init --dir "$dir/$n/keys" --name "$n" > /dev/null
    id=$("$bin/hashmesh-keys" show --dir "$dir/$n/keys" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["member_id"])')
    "$bin/hashmesh-keys" trust add --trust "$dir/trust.toml" --name "$n" --member "$id" --role platform > /dev/null
  done
fi

pids=()
cleanup() {
  echo
  echo "stopping the federation..."
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap "exit 130" INT TERM

declare -A port
for n in "${names[@]}"; do port[$n]=$(free_port); done
prev=""
for n in "${names[@]}"; do
  args=(--data "$dir/$n" --trust "$dir/trust.toml" --listen "127.0.0.1:${port[$n]}" --name "$n")
  [ -n "$prev" ] && args+=(--peer "127.0.0.1:${port[$prev]}")
  "$bin/hashmeshd" "${args[@]}" 2> "$dir/$n.log" &
  pids+=($!)
  prev=$n
done

q() { "$bin/hashmesh" --socket "$dir/$1/query.sock" --admin-socket "$dir/$1/admin.sock" "${@:2}"; }
for n in "${names[@]}"; do
  for _ in $(seq 100); do q "$n" status > /dev/null 2>&1 && break; sleep 0.1; done
done

pdq=$(python3 -c 'import random; print("%064x" % random.getrandbits(256))')
echo "== alice publishes a PDQ signal"
for _ in $(seq 100); do
  q alice submit --type pdq --value "$pdq" --label terrorism/glorification 2> /dev/null && break
  sleep 0.1  # publishing opens once alice knows her own feed is complete
done
near=$(python3 -c "print('%064x' % (int('$pdq', 16) ^ 0b101))")
echo "== carol (connected only to bob) matches a hash 2 bits away"
for _ in $(seq 100); do
  out=$(q carol match --type pdq --value "$near" 2>&1) && [[ "$out" != *"no match"* ]] && [[ "$out" == *"d=2"* ]] && break
  sleep 0.1
done
echo "$out"
cat <<MSG

The federation is running (logs in $dir/*.log). Query any node, e.g.:
  $bin/hashmesh --socket $dir/carol/query.sock status
  $bin/hashmesh --socket $dir/bob/query.sock peers
  $bin/hashmesh --socket $dir/carol/query.sock match --type pdq --value $near
  $bin/hashmesh --socket $dir/alice/query.sock --admin-socket $dir/alice/admin.sock submit --type md5 --value 900150983cd24fb0d6963f7d28e17f72 --label test
Press Ctrl-C to stop all three nodes.
MSG
wait
