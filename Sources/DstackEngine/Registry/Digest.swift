import Crypto
import FoundationEssentials

/// A content digest, `sha256:<64 hex digits>`: the identity of a blob, a manifest or an image.
package struct Digest: Hashable, Sendable, Codable, CustomStringConvertible {
  /// The 64 lowercase hex digits.
  package let hex: String

  /// Parses `sha256:<hex>`; nil for other algorithms or malformed text.
  package init?(_ text: String) {
    guard text.hasPrefix("sha256:") else { return nil }
    let hex = text.utf8.dropFirst(7)
    let isLowercaseHexDigit = { (byte: UInt8) in
      (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
    guard hex.count == 64, hex.allSatisfy(isLowercaseHexDigit) else { return nil }
    self.hex = String(decoding: hex, as: UTF8.self)
  }

  /// The SHA-256 digest of `bytes`.
  package init(of bytes: some DataProtocol) {
    let digits = Array("0123456789abcdef".utf8)
    hex = String(
      decoding: SHA256.hash(data: bytes).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] }, as: UTF8.self)
  }

  package var description: String { "sha256:\(hex)" }
  /// The first 12 hex digits, as docker shows image IDs.
  package var short: String { String(hex.prefix(12)) }

  package init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let digest = Digest(text) else {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad digest \(text)"))
    }
    self = digest
  }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
