-- wrk script for the "POST /echo" scenario: every request carries the
-- same JSON body of exactly 1024 bytes, shaped like a small API payload
-- (an array of objects) rather than one long string, so that a proxy
-- which inspects bodies sees something typical.

local BODY_SIZE = 1024

local function build_body()
    local items = {}
    local used = 0
    local head = '{"tenant":"bench","items":['
    local tail = '],"pad":""}'
    local budget = BODY_SIZE - #head - #tail
    local i = 1

    while true do
        local item = string.format(
            '{"id":%d,"sku":"SKU-%05d","qty":%d,"price":%d.%02d}',
            i, i * 7, i % 9 + 1, i * 3, i % 100)
        local sep = (i > 1) and 1 or 0
        if used + sep + #item > budget then
            break
        end
        items[#items + 1] = item
        used = used + sep + #item
        i = i + 1
    end
    -- The remaining bytes go into "pad" so that the size is exact.
    local pad = string.rep("x", budget - used)
    return head .. table.concat(items, ",") .. '],"pad":"' .. pad .. '"}'
end

wrk.method = "POST"
wrk.body = build_body()
wrk.headers["Content-Type"] = "application/json"
assert(#wrk.body == BODY_SIZE, "echo body must be exactly 1024 bytes")
