import DstackHost
import DstackLua
import DstackTestSupport
import Foundation
import Testing

@testable import DstackEngine

@Suite("Engine socket use")
struct DockerEngineSocketTests {
  let scratch = Scratch()

  @Test("the socket is used only where the docker CLI would use it too")
  func detection() throws {
    let home = scratch.path("home")
    #expect(
      DockerEngineSocket.detect(environment: .with(["DOCKER_HOST": "unix:///run/user/docker.sock"]))?.path
        == "/run/user/docker.sock")
    #expect(DockerEngineSocket.detect(environment: .with(["DOCKER_HOST": "tcp://10.0.0.1:2376"])) == nil)
    #expect(DockerEngineSocket.detect(environment: .with(["DOCKER_HOST": "ssh://builder"])) == nil)
    #expect(DockerEngineSocket.detect(environment: .with(["DOCKER_CONTEXT": "remote", "HOME": home])) == nil)
    try scratch.write("home/.docker/config.json", #"{"currentContext": "remote"}"#)
    #expect(DockerEngineSocket.detect(environment: .with(["HOME": home])) == nil)
    try scratch.write("home/.docker/config.json", #"{"currentContext": "default"}"#)
    let local = DockerEngineSocket.detect(environment: .with(["HOME": home]))
    #expect(
      local?.path == (FileManager.default.fileExists(atPath: "/var/run/docker.sock") ? "/var/run/docker.sock" : nil))
  }

  @Test("a socket that accepts but never answers is given up after its timeout")
  func silentSocket() throws {
    let path = scratch.path("silent.sock")
    let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(listener) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    #expect(bound == 0 && listen(listener, 8) == 0)
    let started = ContinuousClock.now
    #expect(DockerEngineSocket(path: path).get("/images/json") == nil)
    #expect(ContinuousClock.now - started < .seconds(10))
  }
}
