import FoundationEssentials
import Logging

/// No mini signed by a trusted key could be used, and the built-in scripts are not allowed.
package struct UntrustedMiniError: Error, CustomStringConvertible {
  /// The mini setting (`repo`, `repo:tag`, `repo@digest`).
  package let reference: String
  /// What went wrong, for people.
  package let why: String
  /// Where the keys were named.
  package let keysOrigin: String

  package var description: String {
    "no mini for \(reference) is signed by a trusted key (\(why)); publish one with scripts/publish-mini --sign KEY.pem (or cosign sign --key), check the keys in \(keysOrigin), or set DSTACK_ALLOW_BUILTIN=1 to run the unsigned built-in scripts"
  }
}

/// Why a mini image's scripts could not be taken out of it.
package enum MiniError: Error, CustomStringConvertible {
  case disappeared(imageID: Digest)
  case noScripts(folder: String)
  case unsupportedLayer(digest: Digest, mediaType: String)
  case cannotStore(path: String, reason: String)
  case layersDoNotMatch(detail: String)

  package var description: String {
    switch self {
    case .disappeared(let imageID):
      "image \(imageID.short) disappeared from the local engine while dstack read it; run again"
    case .noScripts(let folder):
      "the image has no scripts in \(folder); publish minis with scripts/publish-mini"
    case .unsupportedLayer(let digest, let mediaType):
      "layer \(digest.short) is \(mediaType), which dstack does not read; publish the mini with gzip layers"
    case .layersDoNotMatch(let detail):
      "the image's layers do not match its configuration (\(detail)); the registry served altered content, so nothing was used"
    case .cannotStore(let path, let reason):
      "cannot store the mini's scripts in \(path) (\(reason)); check that the cache folder is writable, or set DSTACK_CACHE_DIR"
    }
  }
}
