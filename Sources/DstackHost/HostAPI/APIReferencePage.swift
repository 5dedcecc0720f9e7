import DstackEngine
import FoundationEssentials
import Logging

/// The reference page of the host API (`images/mini/API.md`), generated from the declarations.
extension HostAPI {
  /// The reference page for script authors, in Markdown.
  package static func reference() -> String {
    let context = HostContext(
      scriptName: "reference", scripts: BuiltinScriptSource(), arguments: [],
      services: HostServices(
        environment: HostEnvironment(variables: [:], currentDirectory: "/"), logger: Logger(label: "dstack"),
        dryRun: DryRunSwitch(true)))
    var page = """
      # dstack host API, level \(level)

      Generated from the host's declarations (`swift run dstack api-reference`); a test fails
      when this page and the code differ. Scripts run in a sandbox: `string`, `table`, `math`,
      `utf8`, `coroutine`, `print` (to standard output), `os.time`/`os.date`/`os.clock`, and
      `require` for modules shipped beside the scripts (`lib/NAME.lua`). Everything else
      that touches the machine goes through `dstack`.

      **Levels 1 and 2 are final.** A level freezes with the first mini published on it: its
      members never change incompatibly and are never removed. New members come with the
      next level, and a script that uses them calls `dstack.require_api(LEVEL)` (and its mini
      carries the `io.dstack.api` label that `scripts/publish-mini` sets), so an older dstack
      skips that mini instead of failing halfway.

      A test keeps the promise, as Neovim's does for its API levels: `api-level-N.txt` (beside
      this page) lists the members level N added, with their signatures, and
      `APIReferenceTests` fails when one of them disappears or changes its signature, or
      when a member that is not in the list claims `since` N.

      **Mechanism here, policy in the scripts.** The host runs any docker command
      (`docker.change`, `docker.query`), reads registries, files, JSON and processes. What
      to do with them (which tag is newest, which flags a run gets, how `build` maps its
      options) lives in the mini's `lib/` modules: `lib/docker.lua` offers `build`, `run`,
      `push`, `pull`, `tag`, `rmi`, `images`, `containers`, `info` and `newest` over these
      primitives.

      Conventions:
      - Misuse (a wrong argument type, an unknown option or member) raises an error at the
        calling line: `dstack.fs.reed` raises "dstack.fs has no member 'reed'".
      - Expected failures (a missing file, a registry that does not answer) return
        `nil, message`.
      - A broken environment (no Docker CLI, daemon down) stops the script with one line
        naming the cause and the fix.
      - In dry-run mode every docker command that changes state is printed, shell-quoted,
        instead of run; queries (`docker.query`, `docker.inspect_image`, …) always run and
        never change anything.
      - `since` is the API level that introduced a member.

      """
    for namespace in namespaces(for: context) {
      let title = namespace.name.isEmpty ? "dstack" : "dstack.\(namespace.name)"
      page += "\n## `\(title)`\n\n\(namespace.summary)\n\n"
      page += "| member | since | description |\n|---|---|---|\n"
      for member in namespace.members {
        let cells = [member.signature, member.summary].map { $0.replacing("|", with: "\\|") }
        page += "| `\(cells[0])` | \(member.since) | \(cells[1]) |\n"
      }
    }
    return page
  }
}
