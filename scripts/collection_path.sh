#!/usr/bin/env bash
# Make the working tree visible to Ansible as the collection pgha.repmgr, and print the
# collections path to use (the folder that contains ansible_collections/).
#
#   build/collections/ansible_collections/pgha/repmgr -> ../../../..  (the repository root)
#
# ansible, ansible-playbook, ansible-doc, ansible-galaxy and ansible-rulebook follow the
# symlink; ansible-test does not (scripts/sanity.sh runs it on a copy instead).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
collections="$root/build/collections"
link="$collections/ansible_collections/pgha/repmgr"
target="../../../.."

if [ "$(readlink "$link" 2>/dev/null)" != "$target" ]; then
    if [ -e "$link" ] && [ ! -L "$link" ]; then
        echo "collection_path: $link exists and is not a symlink; remove it (make clean) and retry" >&2
        exit 1
    fi
    mkdir -p "$(dirname "$link")"
    ln -sfn "$target" "$link"
fi
echo "$collections"
