#!/usr/bin/env python3
"""An independent implementation of cosign's key-based signature format, for the tests.

It writes signatures exactly as `cosign sign --key KEY --tlog-upload=false` does (cosign 2;
cosign 3 with --new-bundle-format=false), with the exact JSON go-containerregistry and
sigstore's payload package marshal, and verifies them as
`cosign verify --key KEY.pub --insecure-ignore-tlog` does. Only Python's standard library and
the `cryptography` package; loopback registries over plain HTTP without authentication.

  cosign_format.py keygen PRIVATE.pem PUBLIC.pem [--curve P-256|P-384]
  cosign_format.py digest REGISTRY REPOSITORY TAG
  cosign_format.py sign REGISTRY REPOSITORY DIGEST --layer KEY.pem[,OPTION...] [--layer ...]
      OPTION: digest=sha256:... (claim another image), reference=REPO (claim another
      repository), tamper=payload|signature (alter it after signing)
  cosign_format.py verify REGISTRY REPOSITORY DIGEST PUBLIC.pem [--exact]

`verify` prints `verified` and exits 0 when one signature is valid, else prints why and exits 1.
With --exact, the signature manifest, its configuration and every payload must also be byte
for byte what cosign writes for them.
"""

import base64
import hashlib
import json
import sys
import urllib.error
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PAYLOAD_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    MANIFEST_TYPE,
    "application/vnd.docker.distribution.manifest.v2+json",
])
ZERO_TIME = "0001-01-01T00:00:00Z"


def go_json(value):
    """JSON as Go's encoding/json writes it: no spaces; <, > and & escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def docker_reference(repository):
    """go-containerregistry's Repository.Name(): Docker Hub as index.docker.io, library/ for one part."""
    parts = repository.split("/", 1)
    if len(parts) == 2 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        if parts[0] == "docker.io":
            return "index.docker.io/" + parts[1]
        return repository
    return "index.docker.io/" + (repository if len(parts) == 2 else "library/" + repository)


def payload(reference, digest):
    """sigstore's payload.Cosign{...}.MarshalJSON() without annotations."""
    return go_json({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    })


def signature_tag(digest):
    return digest.replace(":", "-") + ".sig"


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req) as response:
        return response.status, dict(response.headers), response.read()


def upload_blob(registry, repository, data):
    digest = sha256(data)
    _, headers, _ = request("POST", f"http://{registry}/v2/{repository}/blobs/uploads/")
    location = headers["Location"]
    if location.startswith("/"):
        location = f"http://{registry}{location}"
    separator = "&" if "?" in location else "?"
    request("PUT", f"{location}{separator}digest={digest}", data=data,
            headers={"Content-Type": "application/octet-stream"})
    return digest


def get_manifest(registry, repository, reference):
    try:
        _, _, body = request("GET", f"http://{registry}/v2/{repository}/manifests/{reference}",
                             headers={"Accept": ACCEPT})
        return body
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def get_blob(registry, repository, digest):
    _, _, body = request("GET", f"http://{registry}/v2/{repository}/blobs/{digest}")
    if sha256(body) != digest:
        raise SystemExit(f"blob {digest} does not match its digest")
    return body


def load_private(path):
    with open(path, "rb") as file:
        return serialization.load_pem_private_key(file.read(), password=None)


def keygen(private_path, public_path, curve="P-256"):
    key = ec.generate_private_key({"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}[curve])
    with open(private_path, "wb") as file:
        file.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    with open(public_path, "wb") as file:
        file.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo))


def sign(registry, repository, digest, layer_specs):
    """Pushes the signature manifest cosign would write, one layer per spec."""
    layers = []
    for spec in layer_specs:
        key_path, *options = spec.split(",")
        option = dict(item.split("=", 1) for item in options)
        body = payload(option.get("reference", docker_reference(f"{registry}/{repository}")),
                       option.get("digest", digest))
        signature = load_private(key_path).sign(body, ec.ECDSA(hashes.SHA256()))
        if option.get("tamper") == "payload":
            body = body.replace(b'"optional":null', b'"optional":{"x":"y"}')
        if option.get("tamper") == "signature":
            signature = signature[:-1] + bytes([signature[-1] ^ 1])
        layers.append({
            "mediaType": PAYLOAD_TYPE,
            "size": len(body),
            "digest": upload_blob(registry, repository, body),
            "annotations": {SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()},
        })
    config = config_for(layers)
    upload_blob(registry, repository, config)
    manifest = manifest_for(config, layers)
    request("PUT", f"http://{registry}/v2/{repository}/manifests/{signature_tag(digest)}", data=manifest,
            headers={"Content-Type": MANIFEST_TYPE})


def config_for(layers):
    """The configuration go-containerregistry's mutate.Append gives cosign's empty signature image."""
    return go_json({
        "architecture": "",
        "created": ZERO_TIME,
        "history": [{"created": ZERO_TIME} for _ in layers],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        "config": {},
    })


def manifest_for(config, layers):
    """The signature manifest as go-containerregistry marshals it."""
    return go_json({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "size": len(config), "digest": sha256(config)},
        "layers": layers,
    })


def inexact(registry, repository, body):
    """Why the signature manifest `body` is not byte for byte what cosign writes, or None."""
    manifest = json.loads(body)
    layers = [{"mediaType": layer["mediaType"], "size": layer["size"], "digest": layer["digest"],
               "annotations": {SIGNATURE_ANNOTATION: layer["annotations"][SIGNATURE_ANNOTATION]}}
              for layer in manifest["layers"]]
    config = config_for(layers)
    if get_blob(registry, repository, manifest["config"]["digest"]) != config:
        return "the configuration is not what cosign writes"
    if manifest_for(config, layers) != body:
        return "the manifest is not what cosign writes"
    for layer in layers:
        critical = json.loads(get_blob(registry, repository, layer["digest"]))["critical"]
        expected = payload(critical["identity"]["docker-reference"], critical["image"]["docker-manifest-digest"])
        if get_blob(registry, repository, layer["digest"]) != expected:
            return "a payload is not what cosign writes"
    return None


def verify(registry, repository, digest, public_path, exact=False):
    """cosign verify --key PUBLIC --insecure-ignore-tlog, with its claim checks."""
    with open(public_path, "rb") as file:
        key = serialization.load_pem_public_key(file.read())
    body = get_manifest(registry, repository, signature_tag(digest))
    if body is None:
        return "no signature tag " + signature_tag(digest)
    if exact and inexact(registry, repository, body):
        return inexact(registry, repository, body)
    problems = []
    for layer in json.loads(body)["layers"]:
        if layer.get("mediaType") != PAYLOAD_TYPE:
            continue
        data = get_blob(registry, repository, layer["digest"])
        try:
            signature = base64.b64decode(layer.get("annotations", {})[SIGNATURE_ANNOTATION], validate=True)
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (KeyError, ValueError, InvalidSignature):
            problems.append("a signature does not verify")
            continue
        critical = json.loads(data)["critical"]
        if critical["type"] != "cosign container image signature":
            problems.append("a payload has another type")
        elif critical["image"]["docker-manifest-digest"] != digest:
            problems.append("a payload is for another image")
        elif critical["identity"]["docker-reference"].split("@")[0] not in (
                docker_reference(f"{registry}/{repository}"), f"{registry}/{repository}"):
            problems.append("a payload is for another repository")
        else:
            return None
    return "; ".join(problems) or "no signature layer"


def main(arguments):
    command = arguments[0] if arguments else ""
    if command == "keygen":
        curve = arguments[arguments.index("--curve") + 1] if "--curve" in arguments else "P-256"
        keygen(arguments[1], arguments[2], curve)
    elif command == "digest":
        body = get_manifest(arguments[1], arguments[2], arguments[3])
        if body is None:
            raise SystemExit(f"no tag {arguments[3]}")
        print(sha256(body))
    elif command == "sign":
        specs = [arguments[i + 1] for i, word in enumerate(arguments) if word == "--layer"]
        sign(arguments[1], arguments[2], arguments[3], specs)
    elif command == "verify":
        problem = verify(*arguments[1:5], exact="--exact" in arguments)
        print(problem or "verified")
        return 1 if problem else 0
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
