# The script that leaves out of a copy of the project (the current folder) what the wheel
# `sys.argv[1]` installs, so the tests import the installed copy: the wheel's own top-level
# packages and modules, by its file list (a test module beside a module stays), and src/
# and the build's leftovers.
import os, shutil, sys, zipfile
top = {name.split("/")[0] for name in zipfile.ZipFile(sys.argv[1]).namelist()}
own = {name for name in top if not name.endswith((".dist-info", ".data"))}
leftovers = {"src", "build", "dist", ".git"} | {entry for entry in os.listdir(".") if entry.endswith(".egg-info")}
for entry in sorted(own | leftovers):
    if os.path.isdir(entry) and not os.path.islink(entry):
        shutil.rmtree(entry)
    elif os.path.lexists(entry):
        os.remove(entry)
