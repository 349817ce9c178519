-- wrk script for the JWT scenarios: GET with "Authorization: Bearer T".
--
--   wrk ... -s bench/jwt.lua URL -- TOKEN_FILE
--
-- TOKEN_FILE holds one token per line (bench/run mints them). With one
-- token the request is built once and wrk sends it unchanged, as in the
-- plain GET scenario. With more, each request takes the next token
-- round-robin, so a run of N tokens presents every token once before any
-- repeats; the gateway's verified-token cache then holds them all after
-- the first pass, unless it is smaller than N or turned off.

local tokens = {}
local next_token = 1

function init(args)
    local path = args[1]
    assert(path, "jwt.lua needs a token file: wrk ... -- TOKEN_FILE")
    for line in io.lines(path) do
        if #line > 0 then
            tokens[#tokens + 1] = line
        end
    end
    assert(#tokens > 0, "no token in " .. path)
    if #tokens == 1 then
        wrk.headers["Authorization"] = "Bearer " .. tokens[1]
        -- Without a request function wrk builds the request once.
        request = nil
    end
end

function request()
    local token = tokens[next_token]
    next_token = next_token % #tokens + 1
    wrk.headers["Authorization"] = "Bearer " .. token
    return wrk.format()
end
