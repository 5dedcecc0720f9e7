import Foundation
import PackagePlugin

/// Embeds every file under `images/mini/scripts/` into the target as `BuiltinScripts.files`,
/// so the binary carries the same scripts the mini image ships (one source of truth).
@main
struct EmbedMiniScripts: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    let scripts = context.package.directoryURL.appending(path: "images/mini/scripts")
    let output = context.pluginWorkDirectoryURL.appending(path: "BuiltinScripts.swift")
    return [
      .buildCommand(
        displayName: "Embedding the mini scripts from images/mini/scripts",
        executable: try context.tool(named: "embed-scripts").url,
        arguments: [scripts.path, output.path],
        inputFiles: [scripts] + filesUnder(scripts),
        outputFiles: [output])
    ]
  }

  private func filesUnder(_ directory: URL) -> [URL] {
    guard
      let walker = FileManager.default.enumerator(
        at: directory, includingPropertiesForKeys: [.isRegularFileKey])
    else { return [] }
    return walker.compactMap { $0 as? URL }.filter {
      (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true
    }
  }
}
