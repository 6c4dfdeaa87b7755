-- The token exchange under wrk, for bench.sh and token-bench.sh: every request spends a
-- fresh single-use assertion from the file ASSERTIONS (one a line, from line OFFSET + 1
-- on, OFFSET defaulting to 0) for workflow PREFIX .. n (PREFIX defaulting to
-- "wf-exchange-"), and wrk stops once EXCHANGES answers are in.
local assertions, sent, done = {}, 0, 0
local limit = tonumber(os.getenv("EXCHANGES"))
local offset = tonumber(os.getenv("OFFSET") or "0")
local prefix = os.getenv("PREFIX") or "wf-exchange-"
function init(args)
  for line in io.lines(os.getenv("ASSERTIONS")) do assertions[#assertions + 1] = line end
end
function request()
  sent = sent + 1
  local body = "workflow=" .. prefix .. (sent + offset) .. "&task_class=triage&assertion="
    .. assertions[sent + offset]
  return wrk.format("POST", "/v1/token",
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end
function response(status, headers, body)
  done = done + 1
  if done >= limit then wrk.thread:stop() end
end
