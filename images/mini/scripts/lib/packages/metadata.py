# The script that asks a project's build backend for its metadata, run in a container with
# the project read-only at /dstack/project: PEP 517's prepare_metadata_for_build_wheel
# through pip (`install --dry-run --report`, in an isolated build environment, so any
# backend and its requirements work), on a copy (a backend may write into the source:
# egg-info, a computed version). Prints the core metadata as JSON.
import json, shutil, subprocess, sys, tempfile
source = tempfile.mkdtemp() + "/project"
shutil.copytree("/dstack/project", source, symlinks=True, ignore=shutil.ignore_patterns("dist", "build", ".venv"))
report = tempfile.mkdtemp() + "/report.json"
done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--no-deps",
                       "--ignore-installed", "--report", report, source], stdout=sys.stderr)
if done.returncode != 0:
    sys.exit(done.returncode)
with open(report) as file:
    metadata = json.load(file)["install"][0]["metadata"]
json.dump({key: metadata.get(key) for key in ("name", "version", "requires_dist", "provides_extra")}, sys.stdout)
