import FoundationEssentials
import Logging

/// The mini image a run uses and where its scripts are.
package struct MiniSelection: Sendable {
  /// Where the scripts came from.
  package enum Origin: String, Sendable {
    case registry
    case localEngine = "local engine"
    case cache
    case builtin = "built-in"
  }

  package let setting: MiniSetting
  package let origin: Origin
  package let repository: String
  package let tag: String?
  /// The image ID (configuration digest); nil for the built-in scripts.
  package let imageID: Digest?
  /// The registry manifest digest (what a pin `repo@sha256:…` names); nil for a mini
  /// only the local engine has, and for the built-in scripts.
  package let manifestDigest: Digest?
  /// The folder of the scripts; nil for the built-in scripts.
  package let scriptsDirectory: String?
  /// Newer tags passed over because this host cannot run them.
  package let skipped: [SkippedMini]
  /// When the tag look-up was made (earlier than now when a remembered one was used).
  package let resolvedAt: Date
  /// The key whose signature of the mini was verified; nil when the setting names no key
  /// (or for the built-in scripts, which `DSTACK_ALLOW_BUILTIN=1` allowed).
  package let signedBy: TrustedKey?

  /// How the built-in scripts are named in messages.
  package static let builtinLabel = "built-in scripts (dstack \(DstackRelease.version))"

  /// `repo:tag (sha256:abcdef012345)` with the start of the manifest digest (of the image
  /// ID for a mini only the local engine has), or the built-in scripts.
  package var label: String {
    guard let imageID else { return Self.builtinLabel }
    let digest = manifestDigest ?? imageID
    return "\(repository)\(tag.map { ":\($0)" } ?? "") (\(digest.description.prefix(19)))"
  }
}
