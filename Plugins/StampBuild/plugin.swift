import Foundation
import PackagePlugin

/// Stamps the target with the git commit it is built from (`BuildStamp`), so `dstack
/// version` says where a binary came from. It runs again when git's state or any source
/// changes (its inputs), so the dirty flag follows edits too.
@main
struct StampBuild: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    let checkout = context.package.directoryURL
    let output = context.pluginWorkDirectoryURL.appending(path: "BuildStamp.swift")
    let git = checkout.appending(path: ".git")
    let watched = [git.appending(path: "HEAD"), git.appending(path: "index"), checkout.appending(path: ".build-stamp")]
      .filter { FileManager.default.fileExists(atPath: $0.path) }
    let sources = ["Sources", "images", "Package.swift"].flatMap { filesUnder(checkout.appending(path: $0)) }
    return [
      .buildCommand(
        displayName: "Stamping the build with its git commit",
        executable: try context.tool(named: "stamp-build").url,
        arguments: [checkout.path, output.path],
        inputFiles: watched + sources,
        outputFiles: [output])
    ]
  }

  private func filesUnder(_ location: URL) -> [URL] {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: location.path, isDirectory: &isFolder) else { return [] }
    guard isFolder.boolValue else { return [location] }
    guard let walker = FileManager.default.enumerator(at: location, includingPropertiesForKeys: [.isRegularFileKey])
    else { return [] }
    return walker.compactMap { $0 as? URL }.filter {
      (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true
    }
  }
}
