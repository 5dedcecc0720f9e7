import FoundationEssentials

/// Checks an image's signatures in cosign's key-based format (no transparency log, no
/// keyless certificates), as `cosign sign --key` stores them and
/// `cosign verify --key KEY --insecure-ignore-tlog` checks them.
///
/// The signatures of manifest `sha256:HEX` live in the same repository, in the manifest
/// tagged `sha256-HEX.sig`. Each of its layers of media type
/// `application/vnd.dev.cosign.simplesigning.v1+json` is a JSON payload naming the image
/// (`critical.image.docker-manifest-digest`) and its repository
/// (`critical.identity.docker-reference`); the layer's annotation
/// `dev.cosignproject.cosign/signature` holds the base64 DER ECDSA signature of the payload's
/// bytes. One valid signature by one trusted key suffices.
package enum CosignSignatures {
  /// The media type of a signature payload layer.
  package static let payloadMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
  /// The layer annotation holding the base64 signature.
  package static let signatureAnnotation = "dev.cosignproject.cosign/signature"
  /// `critical.type` of every cosign payload.
  package static let payloadType = "cosign container image signature"
  /// The most signature layers read from one signature manifest.
  static let layerLimit = 100

  /// The result of checking an image's signatures.
  package enum Outcome: Sendable {
    /// A signature by `key` is valid for the image.
    case verified(TrustedKey)
    /// No valid signature by a trusted key, and why (for people).
    case rejected(String)
  }

  /// The tag cosign stores the signatures of `digest` under: `sha256-HEX.sig`.
  package static func signatureTag(for digest: Digest) -> String { "sha256-\(digest.hex).sig" }

  /// Looks for a valid signature of manifest `digest` in `repository` by one of `keys`.
  /// - Throws: when the registry fails (a missing signature tag is a rejection, not an error).
  package static func verify(
    digest: Digest, repository: String, keys: [TrustedKey], registry: any ImageRegistry
  ) throws(RegistryError) -> Outcome {
    let location = RegistryRepository(repository)
    let tag = signatureTag(for: digest)
    let manifest: ImageManifest
    do {
      manifest = try registry.manifest(of: location, reference: tag)
    } catch .notFound {
      return .rejected("no signature: \(repository) has no tag \(tag)")
    }
    var problems: [String] = []
    for layer in manifest.layers.prefix(layerLimit) where layer.mediaType == payloadMediaType {
      guard let signature = layer.annotations?[signatureAnnotation] else {
        problems.append("a signature layer has no \(signatureAnnotation) annotation")
        continue
      }
      let payload = try registry.blob(of: location, digest: layer.digest)
      switch check(payload: Array(payload), signature: signature, digest: digest, repository: repository, keys: keys)
      {
      case .verified(let key): return .verified(key)
      case .rejected(let problem): problems.append(problem)
      }
    }
    return .rejected(problems.first ?? "the signature manifest \(tag) holds no \(payloadMediaType) layer")
  }

  /// Checks one payload and its base64 `signature`: signed by one of `keys`, of type
  /// cosign container image signature, for manifest `digest` in `repository`.
  package static func check(
    payload: [UInt8], signature: String, digest: Digest, repository: String, keys: [TrustedKey]
  ) -> Outcome {
    guard let bytes = Data(base64Encoded: signature.trimmed) else { return .rejected("a signature is not base64") }
    guard let key = keys.first(where: { $0.isValidSignature(Array(bytes), of: payload) }) else {
      let named = keys.map(\.shortFingerprint).joined(separator: ", ")
      return .rejected("the signature does not verify with the trusted key\(keys.count > 1 ? "s" : "") \(named)")
    }
    struct Payload: Decodable {
      struct Critical: Decodable {
        struct Identity: Decodable {
          let dockerReference: String
          enum CodingKeys: String, CodingKey { case dockerReference = "docker-reference" }
        }
        struct Image: Decodable {
          let dockerManifestDigest: String
          enum CodingKeys: String, CodingKey { case dockerManifestDigest = "docker-manifest-digest" }
        }
        let identity: Identity
        let image: Image
        let type: String
      }
      let critical: Critical
    }
    guard let document = try? JSONDecoder().decode(Payload.self, from: Data(payload)) else {
      return .rejected("a signed payload is not a cosign simple-signing payload")
    }
    let critical = document.critical
    guard critical.type == payloadType else {
      return .rejected("a signed payload is of type '\(critical.type)', not '\(payloadType)'")
    }
    guard critical.image.dockerManifestDigest == digest.description else {
      return .rejected("the signature is for another image (\(critical.image.dockerManifestDigest.prefix(19)))")
    }
    guard names(critical.identity.dockerReference, repository: repository) else {
      return .rejected("the signature is for another repository (\(critical.identity.dockerReference))")
    }
    return .verified(key)
  }

  /// True when `reference` (a repository, perhaps with a tag or digest, as cosign writes
  /// `docker-reference`) names `repository`. Docker Hub's names are the same repository
  /// whichever host they name (`docker.io`, `index.docker.io`).
  static func names(_ reference: String, repository: String) -> Bool {
    var name = Substring(reference)
    if let at = name.firstIndex(of: "@") { name = name[..<at] }
    if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") { name = name[..<colon] }
    return canonical(String(name)) == canonical(repository)
  }

  private static func canonical(_ repository: String) -> String {
    let location = RegistryRepository(repository)
    let hub = ["docker.io", "index.docker.io", "registry-1.docker.io"].contains(location.registry)
    return (hub ? "docker.io" : location.registry) + "/" + location.path
  }
}
