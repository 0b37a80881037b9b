-- wrk script: password sign-ins for one verified account (bench/run.py creates it and passes
-- email and password as script arguments). Prints the same JSON line as report.lua.
local body

init = function(args)
  body = string.format('{"email":"%s","password":"%s"}', args[1], args[2])
end

request = function()
  return wrk.format("POST", "/api/v1/auth/login", {["Content-Type"] = "application/json"}, body)
end

dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "report.lua")
