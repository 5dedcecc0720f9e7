-- run: runs a project container the team's way.
--
--   dstack run-script run [options] IMAGE[:TAG] [COMMAND [ARGS...]]
-- See `dstack run-script run --help` and docs/run.md.
dstack.require_api(3) -- lib/trust.lua: dstack.fs.counts

return require("runner").main(dstack.args)
