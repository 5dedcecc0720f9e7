import DstackEngine
import DstackHost
import DstackLua
import DstackTestSupport
import PropertyBased
import Testing

/// One of `choices` (never nil: the lists are not empty).
private func oneOf(_ choices: [String]) -> Generator<String, Shrink.None<String?>> {
  Gen<String?>.element(of: choices).map { $0 ?? "" }
}

private let registries = oneOf([
  "", "localhost:5000/", "127.0.0.1:5000/", "registry.example.com/", "[::1]:5000/", "ghcr.io/", "docker.io/",
])
private let word = Gen.character(in: "a"..."z").string(of: 1...6)
private let separators = oneOf(["", ".", "_", "__", "-", "--"])
private let tags = oneOf(["", ":latest", ":24.01.01", ":20240101-120000", ":v1.2_rc-3", ":_x"])
private let digests = oneOf(["", "@sha256:" + String(repeating: "ab", count: 32)])

@Suite("Image references")
struct ImageReferenceTests {
  @Test("valid references parse into their parts and print back unchanged")
  func roundTrip() async {
    await propertyCheck(count: 500, input: registries, word, separators, word.array(of: 0...2), tags, digests) {
      registry, first, separator, rest, tag, digest in
      let components = [first + (separator.isEmpty ? "" : separator + first)] + rest
      let text = registry + components.joined(separator: "/") + tag + digest
      let reference = try #require(try? ImageReference.validated(text), "\(text) was refused")
      #expect(reference.description == text)
      #expect(reference.repository == registry + components.joined(separator: "/"))
      #expect(reference.tag == (tag.isEmpty ? nil : String(tag.dropFirst())))
      #expect(reference.digest == (digest.isEmpty ? nil : String(digest.dropFirst())))
      // Docker's rule: a first part with a dot (before another part) names a registry.
      let hostLike = registry.isEmpty && components.count > 1 && components[0].contains(".")
      let expected = hostLike ? components[0] : registry.isEmpty ? "docker.io" : String(registry.dropLast())
      #expect(reference.location.registry == expected)
    }
  }

  @Test("any text is either refused with a reason or parses back to itself")
  func arbitraryText() async {
    await propertyCheck(count: 2000, input: Gen.character(in: " "..."~").string(of: 0...40)) { text in
      do {
        #expect(try ImageReference.validated(text).description == text)
      } catch let error as ReferenceError {
        #expect(error.description.hasPrefix("'\(text)' is not an image reference: "))
      } catch {
        Issue.record("unexpected \(error)")
      }
    }
  }

  @Test(
    "invalid references name what is wrong",
    arguments: [
      ("", "the name is empty"), ("Team/app", "'Team' must be lower-case letters and digits"),
      ("team//app", "the name has an empty part"), ("app:", "the tag '' must be"), ("app:-x", "the tag '-x' must be"),
      ("app@sha256:xyz", "the digest must be sha256:"), ("my app", "'my app' must be lower-case"),
      ("bad_host:5000x/app", "'bad_host:5000x' is not a registry host"), ("app-/x", "'app-' must be lower-case"),
    ])
  func invalid(text: String, problem: String) {
    #expect(throws: ReferenceError.self) { try ImageReference.validated(text) }
    do {
      _ = try ImageReference.validated(text)
    } catch {
      #expect(error.problem.hasPrefix(problem), "\(error.problem)")
    }
  }

  @Test("scripts split references with dstack.docker.parse_reference, never by hand")
  func fromLua() throws {
    let runner = ScriptRunner(
      source: MemoryScriptSource([
        "main.lua": """
        local r = assert(dstack.docker.parse_reference("127.0.0.1:5000/team/app:24.01.01"))
        assert(r.repository == "127.0.0.1:5000/team/app" and r.registry == "127.0.0.1:5000")
        assert(r.path == "team/app" and r.tag == "24.01.01" and r.digest == nil)
        local hub = assert(dstack.docker.parse_reference("busybox"))
        assert(hub.registry == "docker.io" and hub.path == "library/busybox" and hub.tag == nil)
        local bad, why = dstack.docker.parse_reference("Bad/Name")
        assert(bad == nil and why:find("must be lower-case", 1, true), why)
        """
      ]), services: .forTests())
    #expect(try runner.run("main", arguments: []) == 0)
  }
}
