#!/usr/bin/env bash
# Fail when the C sources call a banned libc function (see the style
# guide): each has a bounded or checked replacement in src/base.
set -u
cd "$(dirname "$0")/.."
pattern='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok|strncpy|stpcpy)[[:space:]]*\('
if grep -rnE "$pattern" src tests/fuzz bench --include='*.c' --include='*.h'; then
    echo "banned calls found (use the helpers in src/base)" >&2
    exit 1
fi
echo "banned-call check: clean"
