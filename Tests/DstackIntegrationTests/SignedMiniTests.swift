import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// Fixtures/cosign_format.py: an independent implementation of cosign's key-based format
/// (Python's `cryptography`), which signs as `cosign sign --key` does and verifies as
/// `cosign verify --key --insecure-ignore-tlog` does.
func cosignFormat(_ arguments: [String]) throws -> ProcessResult {
  let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/cosign_format.py"
  return try ProcessRunner.current.run(["python3", script] + arguments)
}

@Suite("Signed minis: only behaviour signed with the team's key runs", .serialized, .requiresDocker, .ownThreads)
final class SignedMiniTests {
  let scratch = Scratch()
  deinit { scratch.cleanUp() }

  /// Makes `NAME.pem` (unencrypted PKCS#8) and `NAME.pub` in the scratch folder; returns their paths.
  private func keyPair(_ name: String, curve: String = "P-256") throws -> (private: String, public: String) {
    let pair = (scratch.path("keys/\(name).pem"), scratch.path("keys/\(name).pub"))
    try FileManager.default.createDirectory(atPath: scratch.path("keys"), withIntermediateDirectories: true)
    let made = try cosignFormat(["keygen", pair.0, pair.1, "--curve", curve])
    #expect(made.succeeded, "\(made.errorOutput)")
    return pair
  }

  /// The key's fingerprint as the README says to compute it.
  private func fingerprint(_ publicKey: String) throws -> String {
    let der = try ProcessRunner.current.run(["openssl", "pkey", "-pubin", "-in", publicKey, "-outform", "DER"])
    return Digest(of: der.stdout).hex
  }

  @Test(
    "signatures written as cosign writes them verify in dstack, and each broken one is refused with its reason")
  func independentSignatures() throws {
    let registry = try LoopbackRegistry(directory: scratch.path("registry"))
    let path = "\(scratch.prefix)/mini"
    let mini = "\(registry.address)/\(path)"
    try publish("old", tag: "24.01.01", registry: "\(registry.address)/\(scratch.prefix)", scratch: scratch)
    try publish("new", tag: "24.02.01", registry: "\(registry.address)/\(scratch.prefix)", scratch: scratch)
    let trusted = try keyPair("trusted")
    let other = try keyPair("other")
    let old = try cosignFormat(["digest", registry.address, path, "24.01.01"]).output
    let new = try cosignFormat(["digest", registry.address, path, "24.02.01"]).output
    #expect(try cosignFormat(["sign", registry.address, path, old, "--layer", trusted.private]).succeeded)

    let cases: [(name: String, layers: [String], runs: String, reason: String)] = [
      ("signature tag missing", [], "old", "no signature: \(mini) has no tag sha256-\(new.dropFirst(7)).sig"),
      ("valid", [trusted.private], "new", ""),
      ("wrong key", [other.private], "old", "the signature does not verify with the trusted key"),
      ("payload for another digest", ["\(trusted.private),digest=\(old)"], "old", "the signature is for another image"),
      (
        "payload for another repository", ["\(trusted.private),reference=\(registry.address)/elsewhere/mini"], "old",
        "the signature is for another repository (\(registry.address)/elsewhere/mini)"
      ),
      (
        "tampered payload", ["\(trusted.private),tamper=payload"], "old",
        "the signature does not verify with the trusted key"
      ),
      (
        "tampered signature", ["\(trusted.private),tamper=signature"], "old",
        "the signature does not verify with the trusted key"
      ),
      (
        "several signatures, one valid",
        [other.private, "\(trusted.private),tamper=signature", "\(trusted.private),digest=\(old)", trusted.private],
        "new", ""
      ),
    ]
    for (index, testCase) in cases.enumerated() {
      if !testCase.layers.isEmpty {
        let signed = try cosignFormat(
          ["sign", registry.address, path, new] + testCase.layers.flatMap { ["--layer", $0] })
        #expect(signed.succeeded, "\(testCase.name): \(signed.errorOutput)")
      }
      let result = try DstackBinary.run(
        ["run-script", "hello"],
        environment: [
          "DSTACK_MINI": mini, "DSTACK_MINI_KEY": trusted.public, "DSTACK_CACHE_DIR": scratch.path("cache-\(index)"),
        ])
      #expect(result.output == testCase.runs, "\(testCase.name): \(result.errorOutput)")
      let independent = try cosignFormat(["verify", registry.address, path, new, trusted.public])
      #expect(independent.succeeded == (testCase.runs == "new"), "\(testCase.name): \(independent.output)")
      if testCase.runs == "old" {
        #expect(
          result.errorOutput.contains("mini 24.02.01 is not signed by a trusted key (\(testCase.reason)"),
          "\(testCase.name): \(result.errorOutput)")
        #expect(result.errorOutput.contains("skipped, using 24.01.01"), "\(testCase.name): \(result.errorOutput)")
      } else {
        #expect(result.errorOutput.isEmpty, "\(testCase.name): \(result.errorOutput)")
      }
    }
  }

  @Test(
    "publish-mini --sign signs as cosign does; dstack runs only what a configured key signed, and remembers it")
  func publishedSignatures() throws {
    let registry = try LoopbackRegistry(directory: scratch.path("registry"))
    let namespace = "\(registry.address)/\(scratch.prefix)"
    let path = "\(scratch.prefix)/mini"
    let mini = "\(namespace)/mini"
    let trusted = try keyPair("trusted")
    let other = try keyPair("other")
    try publish("signed", tag: "24.01.01", registry: namespace, scratch: scratch, sign: trusted.private)
    let signed = try cosignFormat(["digest", registry.address, path, "24.01.01"]).output
    let verified = try cosignFormat(["verify", registry.address, path, signed, trusted.public, "--exact"])
    #expect(
      verified.output == "verified", "the independent implementation accepts it, byte for byte as cosign writes it")
    #expect(!(try cosignFormat(["verify", registry.address, path, signed, other.public])).succeeded)

    let cache = scratch.path("cache")
    var environment = ["DSTACK_MINI": mini, "DSTACK_MINI_KEY": trusted.public, "DSTACK_CACHE_DIR": cache]
    func hello(_ extra: [String] = []) throws -> ProcessResult {
      try DstackBinary.run(["run-script"] + extra + ["hello"], environment: environment)
    }
    var result = try hello()
    #expect(result.output == "signed", "\(result.errorOutput)")
    let shown = try DstackBinary.run(["scripts"], environment: environment)
    #expect(
      shown.output.contains(
        "signed:   verified with key \(try fingerprint(trusted.public).prefix(16)) (\(trusted.public)"),
      "\(shown.output)")
    let entries = try FileManager.default.contentsOfDirectory(atPath: cache + "/minis").filter {
      $0.hasPrefix("sha256-")
    }
    let entry = try String(contentsOfFile: "\(cache)/minis/\(entries[0])/entry.json", encoding: .utf8)
    #expect(entry.contains(try fingerprint(trusted.public)), "the cache entry records the key: \(entry)")

    try publish("unsigned", tag: "24.02.01", registry: namespace, scratch: scratch)
    result = try hello(["--refresh"])
    #expect(result.output == "signed", "\(result.errorOutput)")
    #expect(result.errorOutput.contains("mini 24.02.01 is not signed by a trusted key (no signature"))
    result = try hello(["--refresh"])
    #expect(result.output == "signed")
    #expect(result.errorOutput.isEmpty, "the unsigned tag is named once: \(result.errorOutput)")
    let unchecked = try DstackBinary.run(
      ["run-script", "hello"], environment: ["DSTACK_MINI": mini, "DSTACK_CACHE_DIR": scratch.path("cache-nokey")])
    #expect(unchecked.output == "unsigned", "without a key nothing is checked: \(unchecked.errorOutput)")

    try scratch.write("project/sub/.keep", "")
    try scratch.write("project/.dstack-mini", "# only the team's behaviour\nkey ../keys/trusted.pub\n")
    environment.removeValue(forKey: "DSTACK_MINI_KEY")
    result = try DstackBinary.run(
      ["scripts"], directory: scratch.path("project/sub"), environment: environment)
    #expect(result.output.contains("from pin file \(scratch.path("project/.dstack-mini"))"), "\(result.output)")
    #expect(result.output.contains("mini:     \(mini):24.01.01"), "a pin file names the key: \(result.errorOutput)")

    environment["DSTACK_MINI_KEY"] = "\(other.public):\(trusted.public)"
    #expect(try hello().output == "signed", "during a rotation both keys are trusted")
    environment["DSTACK_MINI_KEY"] = other.public
    result = try hello()
    #expect(result.status == 1, "an entry verified with another key is not used: \(result.output)")
    #expect(
      result.errorOutput.hasPrefix("dstack: no mini for \(mini) is signed by a trusted key ("), "\(result.errorOutput)")
    #expect(result.errorOutput.split(separator: "\n").count == 1, "\(result.errorOutput)")
    #expect(result.errorOutput.contains("DSTACK_ALLOW_BUILTIN=1"))
    environment["DSTACK_ALLOW_BUILTIN"] = "1"
    result = try DstackBinary.run(["run-script", "doctor"], environment: environment)
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.errorOutput.contains("DSTACK_ALLOW_BUILTIN=1 allows them"), "\(result.errorOutput)")

    environment["DSTACK_MINI_KEY"] = trusted.public
    environment.removeValue(forKey: "DSTACK_ALLOW_BUILTIN")
    registry.stop()
    result = try hello()
    #expect(result.output == "signed")
    #expect(result.errorOutput.isEmpty, "the warm run checks nothing again: \(result.errorOutput)")
  }

  @Test(
    "a verification stands for its repository and manifest: the same image as another repository's tag is checked again"
  )
  func verificationIsTiedToItsRepository() throws {
    let registry = try LoopbackRegistry(directory: scratch.path("registry-tied"))
    let namespace = "\(registry.address)/\(scratch.prefix)"
    let trusted = try keyPair("tied")
    try publish("team", tag: "24.01.01", registry: namespace, scratch: scratch, sign: trusted.private)
    try publish("exp", tag: "24.01.02", registry: "\(namespace)/exp", scratch: scratch, sign: trusted.private)
    let cache = scratch.path("cache-tied")
    let experiment = try DstackBinary.run(
      ["run-script", "hello"],
      environment: [
        "DSTACK_MINI": "\(namespace)/exp/mini", "DSTACK_MINI_KEY": trusted.public, "DSTACK_CACHE_DIR": cache,
      ])
    #expect(experiment.output == "exp", "\(experiment.errorOutput)")

    // The experiment, signed only for exp/mini, pushed unsigned as a newer tag of the team's mini.
    let copied = "\(namespace)/mini:24.02.01"
    for arguments in [
      ["pull", "--quiet", "\(namespace)/exp/mini:24.01.02"], ["tag", "\(namespace)/exp/mini:24.01.02", copied],
      ["push", "--quiet", copied], ["rmi", "--no-prune", copied, "\(namespace)/exp/mini:24.01.02"],
    ] {
      let result = try ProcessRunner.current.run(["docker"] + arguments)
      #expect(result.succeeded, "\(result)")
    }
    let result = try DstackBinary.run(
      ["run-script", "--refresh", "hello"],
      environment: ["DSTACK_MINI": "\(namespace)/mini", "DSTACK_MINI_KEY": trusted.public, "DSTACK_CACHE_DIR": cache])
    #expect(result.output == "team", "the cached verification for exp/mini was taken for mini: \(result.errorOutput)")
    #expect(
      result.errorOutput.contains("mini 24.02.01 is not signed by a trusted key (no signature"), "\(result.errorOutput)"
    )
  }

  @Test(
    "a key that cannot be used is one clear error",
    arguments: [
      ("missing", "cannot be read (no such file or directory)"), ("p384", "is an ECDSA P-384 key"),
      ("private", "holds a private key"), ("garbage", "is not a PEM public key"),
    ])
  func unusableKey(kind: String, expected: String) throws {
    let path: String
    switch kind {
    case "p384": path = try keyPair("p384", curve: "P-384").public
    case "private": path = try keyPair("private").private
    case "garbage": path = try scratch.write("keys/garbage.pub", "not a key\n")
    default: path = scratch.path("keys/missing.pub")
    }
    let result = try DstackBinary.run(
      ["scripts", "--offline"],
      environment: ["DSTACK_MINI_KEY": path, "DSTACK_CACHE_DIR": scratch.path("cache-\(kind)")])
    #expect(result.status == 1)
    #expect(
      result.errorOutput.hasPrefix("dstack: the mini signing key \(path) from DSTACK_MINI_KEY \(expected)"),
      "\(result.errorOutput)")
    #expect(result.errorOutput.split(separator: "\n").count == 1)
  }
}
