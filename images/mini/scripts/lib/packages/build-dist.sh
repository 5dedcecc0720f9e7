#!/bin/sh
# The build container's command (sh -c): the sdist and wheel from a copy of the project
# (docker cp wrote it as root; the copy belongs to the image's user), into /tmp/dstack-dist.
# A platform wheel (a compiled extension) is repaired with auditwheel when the image has it.
set -e
cp -r /tmp/dstack-source "$HOME/source"
cd "$HOME/source"
rm -rf dist build
python -m build --no-isolation --outdir /tmp/dstack-dist .
for wheel in /tmp/dstack-dist/*.whl; do
    case "$wheel" in *-none-any.whl) continue ;; esac
    if command -v auditwheel >/dev/null; then
        auditwheel repair --wheel-dir /tmp/dstack-repaired "$wheel"
        rm "$wheel"
        mv /tmp/dstack-repaired/*.whl /tmp/dstack-dist/
    fi
done
