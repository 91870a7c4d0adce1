#!/usr/bin/env bash
# make demo: a 3-node PostgreSQL cluster on 127.0.0.11-13 (port 55432), provisioned by this
# collection, and its `repmgr cluster show`. The cluster stays up; `make clean` destroys it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=$("$root/scripts/venv_path.sh")
export PATH="$venv/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
ANSIBLE_COLLECTIONS_PATH=$("$root/scripts/collection_path.sh")
export ANSIBLE_COLLECTIONS_PATH

inventory="$root/build/demo/inventory.yml"

echo "==== demo: three PostgreSQL test hosts on 127.0.0.11, 127.0.0.12, 127.0.0.13 ===="
PYTHONPATH="$root/tests" python -m harness prepare --name demo --nodes 3 --inventory "$inventory"

echo "==== demo: ansible-playbook pgha.repmgr.provision -i $inventory ===="
ansible-playbook pgha.repmgr.provision -i "$inventory"

echo "==== demo: ansible node2 -m pgha.repmgr.repmgr_cluster_info (repmgr cluster show, from a standby) ===="
ANSIBLE_STDOUT_CALLBACK=minimal ANSIBLE_CALLBACK_RESULT_FORMAT=json \
    ansible node2 -i "$inventory" -m pgha.repmgr.repmgr_cluster_info -a '{"events": true}' \
    | python -c 'import json, sys
text = sys.stdin.read()
result = json.loads(text[text.index("{"):])
print(result["cluster_show"])
print()
print("repmgr cluster event:")
print(result["cluster_event"])'
echo
echo "The cluster stays up: ansible node2 -i $inventory -m pgha.repmgr.repmgr_cluster_info"
echo "The real repmgr reads it too: runuser -u postgres -- env PGPASSFILE=<pgha_passfile> repmgr -f <node dir>/repmgr.conf cluster show"
echo "make clean destroys it."
