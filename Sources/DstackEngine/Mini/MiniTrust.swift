import Crypto
import FoundationEssentials

/// A public key minis may be signed with: ECDSA P-256 in PEM, as `cosign generate-key-pair`
/// writes `cosign.pub`.
package struct TrustedKey: Sendable {
  /// The file the key was read from, as named.
  package let path: String
  package let publicKey: P256.Signing.PublicKey
  /// The SHA-256 of the key's DER encoding (SubjectPublicKeyInfo), in hex: what
  /// `openssl pkey -pubin -in KEY -outform DER | sha256sum` prints.
  package let fingerprint: String

  /// Reads the key in `path`; `origin` says who named it, for the error. With `files`, a
  /// key file that does not count (another user owns it or can write it) is refused.
  package init(path: String, origin: String, files: FileTrust? = nil) throws(MiniKeyError) {
    let text: String
    do {
      text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
    } catch {
      throw MiniKeyError(
        path: path, origin: origin,
        problem: "cannot be read (\(Paths.reason(error))); fix the path or the file's permissions")
    }
    if let files, case .ignored(let warning) = files.contents(of: path) {
      throw MiniKeyError(path: path, origin: origin, problem: "cannot be trusted: \(warning)")
    }
    self.path = path
    publicKey = try Self.parse(text, path: path, origin: origin)
    fingerprint = Digest(of: publicKey.derRepresentation).hex
  }

  /// The first 16 hex digits of the fingerprint, for messages.
  package var shortFingerprint: String { String(fingerprint.prefix(16)) }

  /// True when `signature` (DER, as cosign writes it) is this key's ECDSA P-256 / SHA-256
  /// signature of `payload`.
  package func isValidSignature(_ signature: [UInt8], of payload: [UInt8]) -> Bool {
    guard let decoded = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
    return publicKey.isValidSignature(decoded, for: payload)
  }

  private static func parse(_ text: String, path: String, origin: String) throws(MiniKeyError) -> P256.Signing.PublicKey
  {
    if let key = try? P256.Signing.PublicKey(pemRepresentation: text) { return key }
    let problem: String
    if text.contains("PRIVATE KEY-----") {
      problem = "holds a private key; name the public key (cosign.pub), and keep the private one to the publisher"
    } else if (try? P384.Signing.PublicKey(pemRepresentation: text)) != nil {
      problem = "is an ECDSA P-384 key; dstack verifies ECDSA P-256 keys, as cosign generate-key-pair makes"
    } else if (try? P521.Signing.PublicKey(pemRepresentation: text)) != nil {
      problem = "is an ECDSA P-521 key; dstack verifies ECDSA P-256 keys, as cosign generate-key-pair makes"
    } else if text.contains("-----BEGIN PUBLIC KEY-----") {
      problem = "is not an ECDSA P-256 public key (RSA or another algorithm); use a key from cosign generate-key-pair"
    } else {
      problem = "is not a PEM public key (-----BEGIN PUBLIC KEY-----); use cosign.pub from cosign generate-key-pair"
    }
    throw MiniKeyError(path: path, origin: origin, problem: problem)
  }
}

/// The keys a mini must be signed with before its scripts run, and where they were named.
///
/// `DSTACK_MINI_KEY` names key files by absolute paths separated by `:`; without it, `key PATH` lines in the
/// `.dstack-mini` pin file do (paths relative to the pin file). With no key anywhere there
/// is no policy and minis are not checked.
package struct MiniTrust: Sendable {
  /// Any one valid signature by any of these suffices.
  package let keys: [TrustedKey]
  /// Where the keys were named (`DSTACK_MINI_KEY`, `pin file /…/.dstack-mini`).
  package let origin: String
  /// True when `DSTACK_ALLOW_BUILTIN=1` lets the unsigned built-in scripts run when no
  /// signed mini is found.
  package let allowsBuiltin: Bool

  package init(keys: [TrustedKey], origin: String, allowsBuiltin: Bool) {
    self.keys = keys
    self.origin = origin
    self.allowsBuiltin = allowsBuiltin
  }

  /// Reads the key files at `paths`, relative to `directory`; with `files`, only key
  /// files that count (see `TrustedKey.init`).
  package init(
    paths: [String], relativeTo directory: String, origin: String, allowsBuiltin: Bool, files: FileTrust? = nil
  ) throws(MiniKeyError) {
    var keys: [TrustedKey] = []
    for path in paths {
      keys.append(try TrustedKey(path: Paths.absolute(path, from: directory), origin: origin, files: files))
    }
    self.init(keys: keys, origin: origin, allowsBuiltin: allowsBuiltin)
  }

  /// The key with `fingerprint`, when it is one of these.
  package func key(withFingerprint fingerprint: String) -> TrustedKey? {
    keys.first { $0.fingerprint == fingerprint }
  }

  /// Identifies the set of keys, so look-ups made under another set are not reused.
  package var identity: String { keys.map(\.fingerprint).sorted().joined(separator: ",") }
}

/// A key file that cannot be used.
package struct MiniKeyError: Error, CustomStringConvertible {
  package let path: String
  /// Who named the key (`DSTACK_MINI_KEY`, a pin file).
  package let origin: String
  package let problem: String
  package var description: String { "the mini signing key \(path) from \(origin) \(problem)" }
}
