#!/usr/bin/env bash
# Install the Debian packages named on the command line that are missing.
# As root apt-get runs directly, otherwise through sudo when it needs no
# password; with neither, the missing packages are listed and the script
# fails, so a build never starts half-equipped.
set -euo pipefail

missing=()
for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
            grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "apiward: installing missing packages: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
    run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo)
else
    echo "apiward: these Debian packages are missing: ${missing[*]}" >&2
    echo "apiward: install them as root (apt-get install ${missing[*]})" >&2
    echo "apiward: or run this command as root or with sudo rights." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -q >/dev/null ||
    echo "apiward: apt-get update failed; trying the install anyway" >&2
"${run[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
