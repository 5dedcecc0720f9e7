import Crypto
import Foundation
import Testing

@testable import DstackEngine

@Suite("Cosign signature payloads")
struct CosignSignaturesTests {
  let signer = P256.Signing.PrivateKey()
  let digest = DstackEngine.Digest(of: Array("manifest".utf8))
  let repository = "registry.example.com/team/mini"

  /// A trusted key file for `signer`'s public key.
  private func trusted() throws -> TrustedKey {
    let path = NSTemporaryDirectory() + "dstack-key-\(UUID().uuidString).pub"
    try Data(signer.publicKey.pemRepresentation.utf8).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try TrustedKey(path: path, origin: "test")
  }

  /// The payload cosign writes (go's JSON: no spaces, struct order).
  private func payload(reference: String, digest: DstackEngine.Digest) -> [UInt8] {
    Array(
      #"{"critical":{"identity":{"docker-reference":"\#(reference)"},"image":{"docker-manifest-digest":"\#(digest)"},"type":"cosign container image signature"},"optional":null}"#
        .utf8)
  }

  private func signature(_ bytes: [UInt8]) throws -> String {
    try signer.signature(for: bytes).derRepresentation.base64EncodedString()
  }

  private func check(_ payload: [UInt8], _ signature: String) throws -> String {
    switch CosignSignatures.check(
      payload: payload, signature: signature, digest: digest, repository: repository, keys: [try trusted()])
    {
    case .verified: "verified"
    case .rejected(let why): why
    }
  }

  @Test("a payload for this image and repository, signed by the key, verifies")
  func valid() throws {
    let signed = payload(reference: repository, digest: digest)
    #expect(try check(signed, signature(signed)) == "verified")
    let tagged = payload(reference: repository + ":26.11.29", digest: digest)
    #expect(try check(tagged, signature(tagged)) == "verified", "a claimed identity with a tag names the repository")
  }

  @Test("another image, another repository, a tampered payload or signature are refused")
  func refused() throws {
    let other = payload(reference: repository, digest: DstackEngine.Digest(of: Array("other".utf8)))
    #expect(try check(other, signature(other)).hasPrefix("the signature is for another image"))
    let elsewhere = payload(reference: "registry.example.com/evil/mini", digest: digest)
    #expect(try check(elsewhere, signature(elsewhere)).hasPrefix("the signature is for another repository"))
    let signed = payload(reference: repository, digest: digest)
    var tampered = signed
    tampered[tampered.count - 2] = UInt8(ascii: "x")
    #expect(try check(tampered, signature(signed)).hasPrefix("the signature does not verify"))
    var bytes = Array(try signer.signature(for: signed).derRepresentation)
    bytes[bytes.count - 1] ^= 1
    #expect(try check(signed, Data(bytes).base64EncodedString()).hasPrefix("the signature does not verify"))
    #expect(try check(signed, "%%%") == "a signature is not base64")
  }

  @Test("docker-reference names a repository whatever Docker Hub host or tag it carries")
  func names() {
    #expect(CosignSignatures.names("index.docker.io/team/mini", repository: "team/mini"))
    #expect(CosignSignatures.names("index.docker.io/library/mini", repository: "mini"))
    #expect(CosignSignatures.names("127.0.0.1:5000/team/mini@sha256:abc", repository: "127.0.0.1:5000/team/mini"))
    #expect(!CosignSignatures.names("127.0.0.1:5000/team/mini", repository: "127.0.0.1:5001/team/mini"))
    #expect(!CosignSignatures.names("ghcr.io/team/mini2", repository: "ghcr.io/team/mini"))
  }
}
