import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

@Suite(
  "The build script's date versions, CA certificates and missing parents", .serialized, .requiresDocker, .ownThreads)
final class BuildVersionTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  private func build(
    _ arguments: [String], in directory: String, environment: [String: String] = [:]
  ) throws -> ProcessResult {
    try DstackBinary.run(
      ["run-script", "--scripts", Checkout.miniScripts, "build"] + arguments, directory: directory,
      environment: ["DSTACK_NAMESPACE": "", "DSTACK_CA_CERTIFICATES": ""].merging(environment) { $1 })
  }

  private func project(_ name: String, dockerfile: String) throws -> String {
    try scratch.write("\(name)/docker/Dockerfile", dockerfile)
    return scratch.path(name)
  }

  private func tag(of result: ProcessResult) -> String {
    String(result.output.split(separator: "\n").last?.split(separator: ":").last ?? "")
  }

  @Test(
    "--version date and `# dstack: version=date` tag YY.MM.DD; a second date build that day gets a datetime, and says so"
  )
  func dateVersions() throws {
    let namespace = scratch.image("dated")
    let root = try project("base", dockerfile: "FROM busybox\n# dstack: version=date\n")
    let first = try build(["--namespace", namespace], in: root)
    #expect(first.status == 0, "\(first.errorOutput)")
    let today = ImageVersion.date()
    #expect(tag(of: first) == today)

    let second = try build(["--namespace", namespace], in: root)
    #expect(second.status == 0, "\(second.errorOutput)")
    let later = tag(of: second)
    #expect(ImageVersion(later)?.scheme == .datetime)
    #expect(ImageVersion(later)! > ImageVersion(today)!, "the datetime sorts after the date")
    #expect(
      second.errorOutput.contains(
        "\(namespace)/base:\(today) exists already; tagging this build \(later) instead, which sorts after it"),
      "\(second.errorOutput)")
    let tags = try runner.run(["docker", "image", "ls", "--format", "{{.Tag}}", "\(namespace)/base"]).output
    #expect(Set(tags.split(separator: "\n").map(String.init)) == [today, later], "the first is kept")

    let flagged = try project("lib", dockerfile: "FROM busybox\n")
    let byFlag = try build(["--namespace", namespace, "--version", "date"], in: flagged)
    #expect(tag(of: byFlag) == today, "\(byFlag.errorOutput)")
    let product = try build(["--namespace", namespace, "--version", "datetime"], in: root)
    #expect(ImageVersion(tag(of: product))?.scheme == .datetime, "--version overrides the Dockerfile")

    let wrong = try build(["--version", "weekly"], in: flagged)
    #expect(wrong.status == 1)
    #expect(wrong.errorOutput == "dstack: --version: expected date or datetime, got 'weekly'")
  }

  @Test(
    "unset, the host's extra CAs reach the build and it says so; none passes none, and then a failed build names the variable",
    .enabled(
      if: (try? FileManager.default.contentsOfDirectory(atPath: "/usr/local/share/ca-certificates"))?
        .contains { $0.hasSuffix(".crt") } == true,
      "needs extra CA certificates in /usr/local/share/ca-certificates, as a host behind a TLS-intercepting proxy has"))
  func hostCertificatesByDefault() throws {
    let namespace = scratch.image("hostca")
    let root = try project(
      "hostca",
      dockerfile: "FROM busybox\nARG EXTRA_CA_CERTIFICATES\nRUN printf '%s' \"$EXTRA_CA_CERTIFICATES\" > /ca.pem\n")
    let result = try build(["--namespace", namespace], in: root)
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.errorOutput.contains("CA certificate"), "\(result.errorOutput)")
    #expect(result.errorOutput.contains("from /usr/local/share/ca-certificates (the host's own;"))
    let image = result.output.split(separator: "\n").last.map(String.init) ?? ""
    let pem = try runner.run(["docker", "run", "--rm", image, "cat", "/ca.pem"]).output
    #expect(pem.hasPrefix("-----BEGIN CERTIFICATE-----"))

    let none = try build(
      ["--namespace", namespace, "--dry-run"], in: root, environment: ["DSTACK_CA_CERTIFICATES": "none"])
    #expect(none.status == 0 && !none.output.contains("EXTRA_CA_CERTIFICATES"), "\(none.output)")

    let failing = try project(
      "hostca-failing", dockerfile: "FROM busybox\nARG EXTRA_CA_CERTIFICATES\nRUN false\n")
    let failed = try build(["--namespace", namespace], in: failing, environment: ["DSTACK_CA_CERTIFICATES": "none"])
    #expect(failed.status == 1)
    #expect(
      failed.errorOutput.contains("CERTIFICATE_VERIFY_FAILED")
        && failed.errorOutput.contains("export DSTACK_CA_CERTIFICATES="), "\(failed.errorOutput)")
  }

  @Test("DSTACK_CA_CERTIFICATES reaches a Dockerfile that declares ARG EXTRA_CA_CERTIFICATES, and no other")
  func caCertificates() throws {
    let first = "-----BEGIN CERTIFICATE-----\nMIIBfirst\n-----END CERTIFICATE-----"
    let second = "-----BEGIN CERTIFICATE-----\nMIIBsecond\n-----END CERTIFICATE-----"
    try scratch.write("certificates/one.crt", first + "\n")
    try scratch.write("certificates/nested/two.crt", "comment\n" + second + "\n")
    try scratch.write("certificates/README", "not a certificate")
    let namespace = scratch.image("ca")
    let root = try project(
      "trusting",
      dockerfile: "FROM busybox\nARG EXTRA_CA_CERTIFICATES\nRUN printf '%s' \"$EXTRA_CA_CERTIFICATES\" > /ca.pem\n")
    let result = try build(
      ["--namespace", namespace], in: root, environment: ["DSTACK_CA_CERTIFICATES": scratch.path("certificates")])
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.errorOutput.contains("trusting 2 extra CA certificates from \(scratch.path("certificates"))"))
    let image = result.output.split(separator: "\n").last.map(String.init) ?? ""
    let pem = try runner.run(["docker", "run", "--rm", image, "cat", "/ca.pem"]).output
    #expect(pem == second + "\n" + first, "in the order of the sorted paths: nested/two.crt, one.crt")

    let file = try build(
      ["--namespace", namespace], in: root,
      environment: ["DSTACK_CA_CERTIFICATES": scratch.path("certificates/one.crt")])
    #expect(file.errorOutput.contains("trusting 1 extra CA certificate from"), "\(file.errorOutput)")

    let other = try project("plain", dockerfile: "FROM busybox\n")
    let plain = try build(
      ["--namespace", namespace, "--dry-run"], in: other,
      environment: ["DSTACK_CA_CERTIFICATES": scratch.path("certificates")])
    #expect(plain.status == 0, "\(plain.errorOutput)")
    #expect(!plain.output.contains("EXTRA_CA_CERTIFICATES"), "\(plain.output)")

    let missing = try build(
      ["--dry-run"], in: root, environment: ["DSTACK_CA_CERTIFICATES": scratch.path("nowhere.pem")])
    #expect(missing.status == 1)
    #expect(
      missing.errorOutput
        == "dstack: DSTACK_CA_CERTIFICATES=\(scratch.path("nowhere.pem")): no such file or folder; name a PEM file or a folder of .crt files, or unset it"
    )
    let empty = try build(
      ["--dry-run"], in: root, environment: ["DSTACK_CA_CERTIFICATES": scratch.path("certificates/README")])
    #expect(
      empty.errorOutput
        == "dstack: DSTACK_CA_CERTIFICATES=\(scratch.path("certificates/README")): the file holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    )
  }

  @Test("a parent that does not exist: the build names it and how to get it")
  func missingParent() throws {
    let parent = "\(DockerProbe.registry)/\(scratch.image("stack"))/py3"
    let root = try project("orphan", dockerfile: "ARG PARENT=\(parent)\nFROM ${PARENT}\n")
    let result = try build([], in: root)
    #expect(result.status == 1)
    #expect(!result.errorOutput.contains("\n"), "\(result.errorOutput)")
    #expect(result.errorOutput.hasPrefix("dstack: the parent image ARG PARENT=\(parent) in "), "\(result.errorOutput)")
    #expect(result.errorOutput.contains("no version of \(parent) (tags YY.MM.DD or YYYYMMDD-HHMMSS) found"))
    #expect(result.errorOutput.contains("--parent REF"))
    #expect(result.errorOutput.contains("scripts/publish-images"))
  }
}
