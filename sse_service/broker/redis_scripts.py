"""Lua scripts run atomically inside Redis by the Redis broker."""

# KEYS: none (keys are derived from the prefix; a cluster would need hash tags).
# ARGV[1] prefix, ARGV[2] history size, ARGV[3] ttl ms, ARGV[4] JSON list of items:
#   {"u": [user ids] or [] for broadcast, "e": event, "d": data json, "k": idem key or null,
#    "x": trace carrier or null, "c": created_at seconds}
# Returns a JSON list: per item either {"dup": [ids]} or {"ids": [ids]}.
APPEND = """
local p = ARGV[1]
local size = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local items = cjson.decode(ARGV[4])
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('GET', p .. 'lastms') or '0')
if ms < last then ms = last end
redis.call('SET', p .. 'lastms', ms)
local horizon = (ms - ttl) .. '-0'
-- Trim a history and remember the highest seq it dropped (<key>:trimmed), so that a
-- reader can tell whether events after its cursor are gone (then the client resets).
local function trim(key)
  local dropped = nil
  local excess = redis.call('XLEN', key) - size
  if excess > 0 then
    local gone = redis.call('XRANGE', key, '-', '+', 'COUNT', excess)
    dropped = gone[#gone][1]
    redis.call('XTRIM', key, 'MAXLEN', size)
  end
  local old = redis.call('XREVRANGE', key, '(' .. horizon, '-', 'COUNT', 1)
  if #old > 0 then
    dropped = old[1][1]
    redis.call('XTRIM', key, 'MINID', horizon)
  end
  if dropped then
    local seq = tonumber(string.match(dropped, '-(%d+)$'))
    local mark = key .. ':trimmed'
    local known = tonumber(redis.call('GET', mark) or '0')
    if seq > known then redis.call('SET', mark, seq, 'PX', ttl) end
  end
end
local out = {}
for i, it in ipairs(items) do
  local dup = false
  if it.k ~= cjson.null and it.k ~= nil then
    dup = redis.call('GET', p .. 'idem:' .. it.k)
  end
  if dup then
    out[i] = {dup = cjson.decode(dup)}
  else
    local ids = {}
    local targets = it.u
    local broadcast = #targets == 0
    if broadcast then targets = {false} end
    for j, user in ipairs(targets) do
      local seq = redis.call('INCR', p .. 'seq')
      local id = ms .. '-' .. seq
      local key, channel
      if broadcast then
        key = p .. 'b'
        channel = p .. 'cb'
      else
        key = p .. 'h:' .. user
        channel = p .. 'c:' .. user
      end
      local trace = ''
      if it.x ~= cjson.null and it.x ~= nil then trace = cjson.encode(it.x) end
      redis.call('XADD', key, id, 'e', it.e, 'd', it.d, 'c', it.c, 'x', trace)
      trim(key)
      redis.call('PEXPIRE', key, ttl)
      local message = cjson.encode({i = id, u = user, e = it.e, d = it.d, c = it.c, x = trace})
      redis.call('PUBLISH', channel, message)
      ids[j] = id
    end
    if it.k ~= cjson.null and it.k ~= nil then
      redis.call('SET', p .. 'idem:' .. it.k, cjson.encode(ids), 'PX', ttl)
    end
    out[i] = {ids = ids}
  end
end
return cjson.encode(out)
"""

# KEYS[1] lease zset of one user (member: connection id, score: lease expiry ms)
# ARGV[1] now ms, ARGV[2] expiry ms, ARGV[3] connection id, ARGV[4] limit, ARGV[5] "1" to evict oldest
# Connection ids start with their creation time, so sorting members sorts by age.
ACQUIRE_LEASE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local limit = tonumber(ARGV[4])
local held = redis.call('ZRANGE', KEYS[1], 0, -1)
local evicted = {}
if #held >= limit then
  if ARGV[5] ~= '1' then return {0} end
  table.sort(held)
  for i = 1, #held - limit + 1 do
    redis.call('ZREM', KEYS[1], held[i])
    evicted[#evicted + 1] = held[i]
  end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return {1, unpack(evicted)}
"""

# KEYS[1] lease zset; ARGV[1] expiry ms; ARGV[2..] connection ids held by this instance
RENEW_LEASES = """
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
"""
