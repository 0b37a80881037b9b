-- wrk script: cycles through a list of requests (bench/gateway.py writes the benign corpus as a
-- Lua file and passes its path), each thread from its own starting point. Prints report.lua's
-- line.
local requests = {}
local next_index = 1

init = function(args)
  local corpus = dofile(args[1])
  for _, entry in ipairs(corpus) do
    -- wrk.format adds Content-Length for a body; none for an empty one.
    local body = nil
    if entry.body ~= "" then body = entry.body end
    table.insert(requests, wrk.format(entry.method, entry.path, entry.headers, body))
  end
  next_index = math.random(#requests)
end

request = function()
  local request = requests[next_index]
  next_index = next_index % #requests + 1
  return request
end

dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")
