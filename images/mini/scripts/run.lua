-- run: runs a project container the team's way.
--
--   dstack run-script run [options] IMAGE[:TAG] [COMMAND [ARGS...]]
-- See `dstack run-script run --help` and README.md ("The run script").
dstack.require_api(3) -- lib/trust.lua: dstack.fs.counts

return require("runner").main(dstack.args)
