#!/usr/bin/env bash
# Generate the local demo secrets once into .cache/secrets.env (mode 0600);
# keys added later are appended, existing values are never changed.
set -euo pipefail
FILE="${1:?usage: secrets.sh FILE}"
mkdir -p "$(dirname "$FILE")"
umask 077
touch "$FILE"
for key in OPSKIT_ADMIN_TOKEN OPSKIT_DB_PASSWORD OPSKIT_REDIS_PASSWORD OPSKIT_BACKUP_VAULT_PASSWORD; do
  if ! grep -q "^${key}=" "$FILE"; then
    echo "${key}=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >>"$FILE"
    echo "generated $key in $FILE"
  fi
done
chmod 600 "$FILE"
