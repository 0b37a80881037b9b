-- wrk script: refresh-token rotation. A refresh token works once, so each wrk thread keeps a pool
-- of live tokens (seeded from the file bench/run.py wrote, one token per line, split between
-- threads) and every response puts its new token back. wrk waits for a response before the next
-- request on a connection, so at most one request per connection holds a token: seed the pool with
-- more tokens than connections per thread and it never runs dry unless requests fail.
local threads = {}
local counter = 0

setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local pool = {}
local missing = 0

init = function(args)
  local path, thread_count = args[1], tonumber(args[2])
  local index = 0
  for line in io.lines(path) do
    if index % thread_count == id then table.insert(pool, line) end
    index = index + 1
  end
end

request = function()
  local token = table.remove(pool)
  if token == nil then
    -- The pool ran dry (failed refreshes lost their tokens): send one that fails, counted as a
    -- non-2xx answer, rather than stalling the connection.
    missing = missing + 1
    token = "exhausted"
  end
  return wrk.format("POST", "/api/v1/auth/refresh", {["Content-Type"] = "application/json"},
                    '{"refresh_token":"' .. token .. '"}')
end

response = function(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if token then table.insert(pool, token) end
end

dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")
