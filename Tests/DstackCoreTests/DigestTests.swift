import DstackEngine
import PropertyBased
import Testing

@Suite("Digests")
struct DigestTests {
  @Test("a digest of bytes is their SHA-256 in lowercase hex")
  func digestOfBytes() {
    #expect(Digest(of: Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(Digest(of: [UInt8]()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  }

  @Test("digests print back as they parse, and anything but sha256 and 64 lowercase hex digits is refused")
  func parsing() async {
    await propertyCheck(count: 300, input: Gen.character(in: "\0"..."\u{7f}").string(of: 0...8)) { text in
      let digest = Digest(of: Array(text.utf8))
      #expect(Digest(digest.description) == digest)
      #expect(Digest("sha256:" + digest.hex.dropLast()) == nil)
      #expect(Digest("sha256:" + digest.hex + "0") == nil)
      #expect(Digest("sha512:" + digest.hex) == nil)
      #expect(Digest(digest.hex) == nil)
    }
    #expect(Digest("sha256:" + String(repeating: "A", count: 64)) == nil)
    #expect(Digest("sha256:" + String(repeating: "g", count: 64)) == nil)
    #expect(Digest("sha256:" + String(repeating: "é", count: 32)) == nil)
  }
}
