-- run: runs a project container the team's way.
--
--   dstack run-script run [options] IMAGE[:TAG] [COMMAND [ARGS...]]
-- See `dstack run-script run --help` and README.md ("The run script").
dstack.require_api(2) -- lib/trust.lua reads owners (dstack.fs.stat uid, gid)

return require("runner").main(dstack.args)
