#!/usr/bin/env bash
# check/ansible: the roles and playbook of ansible/ pass Debian's
# ansible-lint with the production profile (ansible/.ansible-lint) and
# ansible-playbook's syntax check, with the example inventory (its vault
# opened with the example's password file).
#   tests/check/ansible.sh SOURCE_DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 SOURCE_DIR" >&2; exit 2; }
cd "$1/ansible"
export ANSIBLE_VAULT_PASSWORD_FILE=$PWD/inventory/example/vault-password.txt
# No retry files, no cache inside the source tree.
export ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_LOCAL_TEMP=${TMPDIR:-/tmp}
ansible-playbook --syntax-check -i inventory/example/hosts.yml site.yml
ansible-lint --nocolor --profile production --offline
