#!/bin/sh
# The start of release's test command (sh -c, the requirement `$1`): the wheel installed
# with its dependencies, or, with a lock (DSTACK_LOCK, the project copied to
# /tmp/dstack-project), what the lock pins by the parent's pip-install-dependencies, then
# the wheel alone. It exits with 70 (lib/packages.lua's install_failed) when that fails.
set -e
if [ "$DSTACK_LOCK" = none ]; then
    pip install --quiet "$1" || exit 70
else
    installer="$(command -v pip-install-dependencies || true)"
    if [ -z "$installer" ] || ! grep -q DSTACK_LOCK "$installer"; then
        echo "release: the parent image cannot install from $DSTACK_LOCK (its pip-install-dependencies is older than py3 26.12.07, or missing); test on a newer py3, or release with --no-lock" >&2
        exit 70
    fi
    pip-install-dependencies /tmp/dstack-project/pyproject.toml --all-extras || exit 70
    pip install --quiet --no-deps "$1" || exit 70
fi
