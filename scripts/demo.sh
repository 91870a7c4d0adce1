#!/usr/bin/env bash
# make demo: the repmgrd automatic-failover demonstration, retold with this collection.
#   1. three PostgreSQL test hosts on 127.0.0.11-13 (port 55432), provisioned by pgha.repmgr.provision
#   2. the rulebook pgha.repmgr.failover watches them (5 x 1 s retries, as in repmgr's demonstration)
#   3. cluster show; the primary is stopped; the failover happens by itself
#   4. cluster show and cluster event again
# The cluster stays up afterwards (make clean destroys it); the rulebook is stopped by its PID.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=$("$root/scripts/venv_path.sh")
export PATH="$venv/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
ANSIBLE_COLLECTIONS_PATH=$("$root/scripts/collection_path.sh")
export ANSIBLE_COLLECTIONS_PATH
export PYTHONPATH="$root/tests"

demo="$root/build/demo"
inventory="$demo/inventory.yml"
mkdir -p "$demo"

show() {  # repmgr cluster show (and event) from node2, as the module prints them
    ANSIBLE_STDOUT_CALLBACK=minimal ANSIBLE_CALLBACK_RESULT_FORMAT=json \
        ansible "$1" -i "$inventory" -m pgha.repmgr.repmgr_cluster_info -a '{"events": true, "limit": 6}' \
        | python -c 'import json, sys
text = sys.stdin.read()
result = json.loads(text[text.index("{"):])
print(result["cluster_show"])
if "'"${2:-}"'" == "events":
    print()
    print("$ repmgr cluster event")
    print(result["cluster_event"])'
}

echo "==== demo: three PostgreSQL test hosts on 127.0.0.11, 127.0.0.12, 127.0.0.13 ===="
python -m harness prepare --name demo --nodes 3 --inventory "$inventory"

echo "==== demo: ansible-playbook pgha.repmgr.provision -i $inventory ===="
ansible-playbook pgha.repmgr.provision -i "$inventory" | tail -n 5

echo "==== demo: ansible-rulebook -r pgha.repmgr.failover (reconnect_attempts 5, reconnect_interval 1) ===="
python - "$inventory" "$demo/monitor.yml" <<'PY'
import sys, yaml
inventory = yaml.safe_load(open(sys.argv[1]))
common = inventory["all"]["vars"]
hosts = inventory["all"]["children"]["pgha_nodes"]["hosts"]
conninfo = ["host=%s port=%s user=%s dbname=%s connect_timeout=2" % (h["pgha_listen_address"], common["pgha_port"],
            common["pgha_repmgr_user"], common["pgha_repmgr_database"]) for h in hosts.values()]
with open(sys.argv[2], "w") as out:
    yaml.safe_dump(dict(pgha_cluster_name="demo", pgha_monitor_conninfo=conninfo,
                        pgha_repmgr_password=common["pgha_repmgr_password"], pgha_monitor_interval=2,
                        pgha_reconnect_attempts=5, pgha_reconnect_interval=1), out)
PY
chmod 600 "$demo/monitor.yml"
setsid ansible-rulebook -r pgha.repmgr.failover -i "$inventory" --vars "$demo/monitor.yml" --print-events \
    > "$demo/rulebook.log" 2>&1 &
rulebook_pid=$!
stop_rulebook() { kill -- "-$rulebook_pid" 2>/dev/null || true; }
trap stop_rulebook EXIT
for _try in $(seq 1 120); do
    grep -q "repmgrd_start" "$demo/rulebook.log" && break
    kill -0 "$rulebook_pid" 2>/dev/null || { cat "$demo/rulebook.log"; exit 1; }
    sleep 0.5
done
grep -q "repmgrd_start" "$demo/rulebook.log" || { echo "the monitor did not start"; cat "$demo/rulebook.log"; exit 1; }

echo "==== demo: \$ repmgr cluster show ===="
show node2

echo "==== demo: \$ repmgr cluster event --event=repmgrd_start ===="
for _try in $(seq 1 40); do  # the monitor writes one row per node when it starts
    events=$(ANSIBLE_STDOUT_CALLBACK=minimal ANSIBLE_CALLBACK_RESULT_FORMAT=json ansible node2 -i "$inventory" \
        -m pgha.repmgr.repmgr_cluster_info -a '{"event": "repmgrd_start"}' \
        | python -c 'import json, sys
text = sys.stdin.read()
result = json.loads(text[text.index("{"):])
if len(result["events"]) >= 3:
    print(result["cluster_event"])')
    [ -n "$events" ] && break
    sleep 0.5
done
echo "$events"

echo "==== demo: the primary node1 stops (pg_ctl -m immediate stop) at $(date +%T) ===="
python -m harness crash --name demo node1
started=$(date +%s%N)
for _try in $(seq 1 120); do
    if ANSIBLE_STDOUT_CALLBACK=minimal ANSIBLE_CALLBACK_RESULT_FORMAT=json ansible node2 -i "$inventory" \
            -m pgha.repmgr.repmgr_cluster_info -a '{"events": true, "event": "repmgrd_failover_follow"}' 2>/dev/null \
            | grep -q '"event": "repmgrd_failover_follow"'; then
        break
    fi
    sleep 0.5
done
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
printf '==== demo: failover seen %d.%d s after the primary stopped (polled with ansible) ====\n' \
    $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100))
grep -E "TASK \[(pgha.repmgr.repmgr_failover : Promote|Fence the failed|The followers wait)|no failover of" "$demo/rulebook.log" | head -n 12 || true

echo "==== demo: \$ repmgr cluster show ===="
show node2 events
echo
echo "The cluster stays up: ansible node2 -i $inventory -m pgha.repmgr.repmgr_cluster_info"
echo "Bring node1 back as a standby: ansible-playbook pgha.repmgr.rejoin -i $inventory -e node=node1"
echo "make clean destroys it. The rulebook's log: $demo/rulebook.log"
