-- SPDX-License-Identifier: BSD-2-Clause
-- The OpenResty peer: what a team would write on Debian's
-- libnginx-mod-http-lua + lua-nginx-redis instead of a C module.  Per
-- request: validate the query like the module does (app, module, action
-- required), build the same compact JSON event (generated eid, recv_ts, ip,
-- ua, referer, p.* properties), RPUSH it, answer the GIF once Redis said yes.
-- One Redis command per request, connections from the cosocket keepalive
-- pool.  nginx runs require("bench_collect").handle() in
-- content_by_lua_block; the list key and Redis port come from the nginx
-- variables $bench_key and $bench_redis_port.

local redis = require "nginx.redis"

local byte, format, gsub, sub = string.byte,
    string.format, string.gsub, string.sub
local concat, floor = table.concat, math.floor

local gif = "GIF89a\1\0\1\0\128\0\0\0\0\0\255\255\255\33\249\4\1\0\0\0\0"
    .. "\44\0\0\0\0\1\0\1\0\0\2\2\68\1\0\59"

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\' }

local function escape(c)
    return escapes[c] or format("\\u%04x", byte(c))
end

local function quote(s)
    return '"' .. gsub(s, '[%c"\\]', escape) .. '"'
end

local seq = 0

local _M = {}

function _M.handle()
    local args, err = ngx.req.get_uri_args(64)
    if err == "truncated" then
        ngx.status = 400
        return ngx.say('{"error":"too_many_fields"}')
    end

    local app, module, action = args.app, args.module, args.action
    if type(app) ~= "string" or app == "" or type(module) ~= "string"
        or module == "" or type(action) ~= "string" or action == "" then
        ngx.status = 400
        return ngx.say('{"error":"missing_field"}')
    end

    local now = floor(ngx.now() * 1000 + 0.5)
    seq = seq + 1

    local ev = {
        '{"eid":"', format("%012x%04x%06x%010x", now, 0, ngx.worker.pid(), seq),
        '","recv_ts":', format("%d", now),
        ',"app":', quote(app), ',"module":', quote(module),
        ',"action":', quote(action),
    }
    local n = #ev

    for _, k in ipairs({ "object", "uid" }) do
        local v = args[k]
        if type(v) == "string" then
            ev[n + 1], ev[n + 2], ev[n + 3] = ',"', k, '":' .. quote(v)
            n = n + 3
        end
    end

    ev[n + 1] = ',"ip":' .. quote(ngx.var.remote_addr)
    n = n + 1

    local ua, referer = ngx.var.http_user_agent, ngx.var.http_referer
    if ua then
        ev[n + 1] = ',"ua":' .. quote(ua)
        n = n + 1
    end
    if referer then
        ev[n + 1] = ',"referer":' .. quote(referer)
        n = n + 1
    end

    local props
    for k, v in pairs(args) do
        if type(v) == "string" and sub(k, 1, 2) == "p." then
            props = (props and props .. "," or "") .. quote(sub(k, 3)) .. ":"
                .. quote(v)
        end
    end
    if props then
        ev[n + 1] = ',"props":{' .. props .. '}'
        n = n + 1
    end
    ev[n + 1] = "}"

    local red = redis:new()
    red:set_timeout(2000)

    local ok
    ok, err = red:connect("127.0.0.1", tonumber(ngx.var.bench_redis_port))
    if not ok then
        ngx.log(ngx.ERR, "redis connect: ", err)
        return ngx.exit(503)
    end

    ok, err = red:rpush(ngx.var.bench_key, concat(ev))
    if not ok then
        ngx.log(ngx.ERR, "redis rpush: ", err)
        return ngx.exit(503)
    end

    red:set_keepalive(10000, 64)

    ngx.header["Content-Type"] = "image/gif"
    ngx.header["Cache-Control"] = "no-store"
    ngx.print(gif)
end

return _M
