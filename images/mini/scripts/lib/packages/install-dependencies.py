# The script that installs what the project asks for, in the development image: the
# build requirements, the dependencies, every extra and every dependency group (PEP 735),
# never the project itself (an extra that names it, such as `name[test]`, is left out:
# its requirements are all installed anyway). The dependencies and extras come from
# metadata.json when the build backend said them (`complete` in lib/packages.lua), else from pyproject.toml;
# with a lock (DSTACK_LOCK), the parent's pip-install-dependencies installs what it pins.
"""Installs what the project asks for (build requirements, dependencies, every extra and
dependency group), but not the project itself. Written by dstack's build (lib/packages.lua).
Usage: install-dependencies PYPROJECT METADATA_JSON"""
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

from packaging.requirements import Requirement

with open(sys.argv[1], "rb") as file:
    data = tomllib.load(file)
with open(sys.argv[2]) as file:
    metadata = json.load(file)
project = data.get("project", {})
own = re.sub(r"[-_.]+", "-", metadata.get("name") or project.get("name", "")).lower()
wanted = list(data.get("build-system", {}).get("requires", ["setuptools>=40.8.0"]))
lock = os.environ.get("DSTACK_LOCK", "none")
if lock != "none":
    # The build requirements (a lock holds the project's own), then what the lock pins, by
    # the parent's script: one implementation of locks, in py3.
    installer = shutil.which("pip-install-dependencies")
    if not installer or "DSTACK_LOCK" not in open(installer).read():
        sys.exit(f"install-dependencies: the parent image cannot install from {lock} (its pip-install-dependencies "
                 "is older than py3 26.12.07, or missing); build on a newer py3, or with --no-lock")
    print("install-dependencies: " + " ".join(wanted), flush=True)
    if subprocess.run([sys.executable, "-m", "pip", "install", *wanted]).returncode:
        sys.exit(1)
    os.execv(installer, [installer, sys.argv[1], "--all-extras"])
if metadata:
    # Core metadata: every requirement that applies here without an extra or with any one.
    extras = [""] + list(metadata.get("provides_extra") or [])
    for text in metadata.get("requires_dist") or []:
        requirement = Requirement(text)
        if requirement.marker is None or any(requirement.marker.evaluate({"extra": extra}) for extra in extras):
            requirement.marker = None
            wanted.append(str(requirement))
else:
    wanted += project.get("dependencies", [])
    for requirements in project.get("optional-dependencies", {}).values():
        wanted += requirements
for requirements in data.get("dependency-groups", {}).values():
    wanted += [item for item in requirements if isinstance(item, str)]


def name_of(requirement):
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


wanted = [item for item in dict.fromkeys(wanted) if name_of(item) != own]
if not wanted:
    print("install-dependencies: nothing to install")
    sys.exit(0)
print("install-dependencies: " + " ".join(wanted), flush=True)
sys.exit(subprocess.run([sys.executable, "-m", "pip", "install", *wanted]).returncode)
