-- wrk script: the same JSON POST on every request (bench/gateway.py passes the body as the
-- script argument; the URL and headers come from the command line). Prints report.lua's line.
local body

init = function(args)
  body = args[1]
end

request = function()
  wrk.headers["Content-Type"] = "application/json"
  return wrk.format("POST", nil, nil, body)
end

dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")
