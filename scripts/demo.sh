#!/usr/bin/env bash
# make demo: a 3-node PostgreSQL cluster on 127.0.0.11-13, provisioned by this collection, and
# its `repmgr cluster show` table. The cluster stays up; `make clean` destroys it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=$("$root/scripts/venv_path.sh")
export PATH="$venv/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"
ANSIBLE_COLLECTIONS_PATH=$("$root/scripts/collection_path.sh")
export ANSIBLE_COLLECTIONS_PATH

inventory="$root/build/demo/inventory.yml"

echo "==== demo: three PostgreSQL servers on 127.0.0.11, 127.0.0.12, 127.0.0.13 ===="
PYTHONPATH="$root/tests" python -m harness prepare --name demo --nodes 3 --inventory "$inventory"

echo "==== demo: ansible-playbook pgha.repmgr.provision ===="
ansible-playbook pgha.repmgr.provision -i "$inventory"

echo "==== demo: cluster show ===="
ansible 'pgha_nodes[0]' -i "$inventory" -m pgha.repmgr.repmgr_cluster_info
