import DstackEngine
import DstackTestSupport
import Foundation
import Testing

@Suite("Mini setting: precedence and whose pin files count")
struct MiniSettingTests {
  let scratch = Scratch()

  private func resolve(
    in directory: String, _ variables: [String: String] = [:], flag: String? = nil, files: FileTrust = .currentUser
  ) throws -> MiniSetting {
    try MiniSetting.resolve(
      flag: flag, environment: HostEnvironment(variables: variables, currentDirectory: directory), files: files)
  }

  @Test("--mini, then DSTACK_MINI, then the pin file; a pin of just a tag pins DSTACK_MINI's repository")
  func precedence() throws {
    try scratch.write("project/.dstack-mini", "pinned.example.com/team/mini:24.01.01\n")
    let project = scratch.path("project")
    #expect(try resolve(in: project).reference.description == "pinned.example.com/team/mini:24.01.01")
    let fromEnvironment = try resolve(in: project, ["DSTACK_MINI": "env.example.com/team/mini:24.02.02"])
    #expect(fromEnvironment.reference.description == "env.example.com/team/mini:24.02.02")
    #expect(fromEnvironment.origin == "DSTACK_MINI")
    #expect(try resolve(in: project, ["DSTACK_MINI": "env.example.com/m"]).reference.description == "env.example.com/m")
    let flagged = try resolve(in: project, ["DSTACK_MINI": "env.example.com/m"], flag: "flag.example.com/m")
    #expect(flagged.reference.description == "flag.example.com/m")

    try scratch.write("project/.dstack-mini", "24.01.01\n")
    #expect(
      try resolve(in: project, ["DSTACK_MINI": "env.example.com/m"]).reference.description
        == "env.example.com/m:24.01.01")
    #expect(
      try resolve(in: project, ["DSTACK_MINI": "env.example.com/m:24.03.03"]).reference.description
        == "env.example.com/m:24.03.03", "DSTACK_MINI's own tag wins over the pin file's")
  }

  @Test(
    "the team's mini is $DSTACK_NAMESPACE/mini; with nothing naming one, the built-in scripts; a pinned tag needs a repository"
  )
  func teamDefault() throws {
    try scratch.write("plain/.keep", "")
    let plain = scratch.path("plain")
    let team = try resolve(in: plain, ["DSTACK_NAMESPACE": "registry.example.com/team/"])
    #expect(team.reference.description == "registry.example.com/team/mini" && team.kind == .namespace)
    #expect(try resolve(in: plain).kind == .builtin)
    #expect(try resolve(in: plain, ["DSTACK_MINI": "other.example.com/mini"]).kind == .named)
    try scratch.write("tagged/.dstack-mini", "24.01.01\n")
    let tagged = scratch.path("tagged")
    #expect(
      try resolve(in: tagged, ["DSTACK_NAMESPACE": "registry.example.com/team"]).reference.description
        == "registry.example.com/team/mini:24.01.01")
    #expect {
      try resolve(in: tagged)
    } throws: { error in
      "\(error)".hasPrefix(
        "the pin file \(tagged)/.dstack-mini holds only a tag, and nothing names the mini repository")
    }
  }

  @Test("DSTACK_MINI_KEY must name key files by absolute paths")
  func keyPaths() throws {
    try scratch.write("project/mini.pub", "not a key")
    let project = scratch.path("project")
    #expect {
      try resolve(in: project, ["DSTACK_MINI_KEY": "mini.pub"])
    } throws: { error in
      "\(error)".contains("DSTACK_MINI_KEY names the relative path 'mini.pub'") && !"\(error)".contains("\n")
    }
    #expect {
      try resolve(in: project, ["DSTACK_MINI_KEY": ":"])
    } throws: { error in
      "\(error)" == "DSTACK_MINI_KEY=':' names no key file; set it to the absolute paths of public keys "
        + "separated by ':', or unset it"
    }
  }

  @Test("a pin file that other users can write is ignored with a warning naming it")
  func writablePinFile() throws {
    let pin = try scratch.write("project/.dstack-mini", "pinned.example.com/team/mini:24.01.01\n")
    #expect(chmod(pin, 0o666) == 0)
    let setting = try resolve(in: scratch.path("project"))
    #expect(setting.kind == .builtin)
    #expect(
      setting.warnings == [
        "ignoring \(pin): other users can write it (mode 666); remove their write permission (chmod go-w) to use it"
      ])
  }

  @Test(
    "pin files of other users are ignored, and the walk up stops at their folders",
    .enabled(if: LocalUser.isPossible, "making users takes root (useradd); scripts/test runs as root"))
  func otherUsersFiles() throws {
    let mallory = try LocalUser()
    let alice = try LocalUser()
    defer {
      mallory.remove()
      alice.remove()
    }
    // Mallory's pin file in a shared folder above the user's project.
    let pin = try scratch.write("shared/.dstack-mini", "evil.example.com/mini\nkey evil.pub\n")
    mallory.own(pin)
    try scratch.write("shared/project/src/.keep", "")
    var setting = try resolve(in: scratch.path("shared/project/src"))
    #expect(setting.kind == .builtin && setting.trust == nil)
    #expect(setting.warnings.count == 1)
    #expect(
      setting.warnings.first?.hasPrefix("ignoring \(pin): it belongs to user \(mallory.name) (uid \(mallory.uid))")
        == true, "\(setting.warnings)")

    // A pin file above a folder that Mallory owns is not looked at.
    try scratch.write("top/.dstack-mini", "top.example.com/mini\n")
    try scratch.write("top/mallory/project/.keep", "")
    mallory.own(scratch.path("top/mallory"))
    setting = try resolve(in: scratch.path("top/mallory/project"))
    #expect(setting.kind == .builtin && setting.warnings.isEmpty, "\(setting)")
    #expect(try resolve(in: scratch.path("top")).origin == "pin file \(scratch.path("top/.dstack-mini"))")

    // Alice's own pin file counts for Alice, in her folder below root's; a key file Mallory owns does not.
    try scratch.write("home/alice/project/.keep", "")
    let alicePin = try scratch.write("home/alice/.dstack-mini", "alice.example.com/mini\nkey mallory.pub\n")
    let key = try scratch.write("home/alice/mallory.pub", "-----BEGIN PUBLIC KEY-----\n")
    for path in [scratch.path("home/alice"), scratch.path("home/alice/project"), alicePin] { alice.own(path) }
    mallory.own(key)
    let asAlice = FileTrust(uid: alice.uid, gid: alice.gid)
    #expect {
      try resolve(in: scratch.path("home/alice/project"), files: asAlice)
    } throws: { error in
      "\(error)".hasPrefix(
        "the mini signing key \(key) from pin file \(alicePin) cannot be trusted: ignoring \(key): it belongs to user \(mallory.name)"
      )
    }
    try scratch.write("home/alice/.dstack-mini", "alice.example.com/mini\n")
    alice.own(alicePin)
    setting = try resolve(in: scratch.path("home/alice/project"), files: asAlice)
    #expect(setting.reference.description == "alice.example.com/mini", "\(setting.warnings)")
    let asMallory = FileTrust(uid: mallory.uid, gid: mallory.gid)
    #expect(try resolve(in: scratch.path("home/alice/project"), files: asMallory).kind == .builtin)
  }
}
