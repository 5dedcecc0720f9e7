import DstackEngine
import DstackHost
import DstackLua
import DstackTestSupport
import Foundation
import Testing

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
}
