# Where `twine upload` would upload, and with which credentials, read by twine's own code:
# `python -c SCRIPT NAME URL CONFIG`, with the text of the .pypirc CONFIG on standard input
# (empty when there is none). URL, when not empty, wins over the section NAME, as
# `twine upload --repository-url` does. Prints {"repository", "username", "password"} as
# JSON (null where nothing is said), or exits 1 with twine's message. The text is written
# for twine's reader under /tmp, which the container must have as a tmpfs (memory only).
import json
import os
import sys
import tempfile

from twine import exceptions, utils

name, url, config = sys.argv[1], sys.argv[2] or None, sys.argv[3]
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "pypirc")
    with open(path, "w", encoding="utf-8") as file:
        file.write(sys.stdin.read())
    try:
        settings = utils.get_repository_from_config(path, name, url)
    except exceptions.TwineException as problem:
        sys.exit(" ".join(str(problem).replace(path, config).split()))
json.dump({key: settings.get(key) for key in ("repository", "username", "password")}, sys.stdout)
