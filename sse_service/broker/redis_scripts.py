"""Lua scripts run atomically inside Redis by the Redis brokers.

Every key a script touches is passed in KEYS (in cluster mode all of one call's keys
share a slot); every key's type is checked before the first write, so a foreign key of
the wrong type fails the call before anything is stored.
"""

# KEYS: the keys named by the plan (histories, metas, idempotency records, channels).
# ARGV[1] history size, ARGV[2] ttl ms, ARGV[3] plan (JSON, indexes are 1-based into KEYS):
#   k: one type code per key ('s' stream, 'h' hash, 'v' string, '-' unchecked)
#   s: streams written: [{h, m, c, b (true for the broadcast stream), e (epoch if new),
#       k (its collapse hash: collapse key → newest offset; 0 when no notification has a key)}]
#   bh, bm, be: the broadcast stream's history/meta keys to read its position from
#       (0 when not in this call), and its epoch if new; bp: "<epoch>.<offset>" read
#       beforehand when the broadcast stream is in another slot ('' when unknown)
#   n: notifications: [{t: [[stream, idempotency key or 0] per recipient], f: fingerprint,
#       e: event, d: data json, c: created at, x: trace carrier json or '', k: collapse key or '',
#       bp: this notification's broadcast position when known per notification, else ''}]
#   pub: 'PUBLISH' or 'SPUBLISH'
# Publishes per recipient on its stream's channel: {o: offset, p: epoch, e, d, c, and x, s
#   (broadcast stamp), k only when not empty} (redis_plan.event_from_message reads it).
# Returns JSON: {"conflict": i} (nothing written) or {"r": per notification, per recipient
#   {"dup": id} or {"p": epoch, "o": offset, "s": broadcast stamp, "i": id}}.
APPEND = r"""
local size = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local plan = cjson.decode(ARGV[3])
local NO = '000000000000'
local kinds = {s = 'stream', h = 'hash', v = 'string'}
for i = 1, #KEYS do
  local want = kinds[string.sub(plan.k, i, i)]
  if want then
    local t = redis.call('TYPE', KEYS[i])['ok']
    if t ~= 'none' and t ~= want then return redis.error_reply('FLAGSTREAM wrong key type') end
  end
end
local function parse(o)
  local ms, n = string.match(o, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(n)
end
local function newer(a, b)
  local am, an = parse(a)
  local bm, bn = parse(b)
  return am > bm or (am == bm and an > bn)
end
-- The epoch of a stream: written once; a new one when the history vanished while its
-- meta survived (so no cursor into the lost history is ever misread). Returns the epoch,
-- the newest offset and the newest broadcast stamp (false when none), read in one HMGET.
local function ensure(h, m, candidate)
  local meta = redis.call('HMGET', KEYS[m], 'e', 'o', 'bp')
  if meta[2] and h > 0 and redis.call('EXISTS', KEYS[h]) == 0 then
    redis.call('DEL', KEYS[m])
    meta = {false, false, false}
  end
  if not meta[1] then
    redis.call('HSET', KEYS[m], 'e', candidate)
    redis.call('PEXPIRE', KEYS[m], ttl)
    meta[1] = candidate
  end
  return meta[1], meta[2], meta[3]
end
local dups = {}
for i, n in ipairs(plan.n) do
  for j, t in ipairs(n.t) do
    if t[2] > 0 then
      local record = redis.call('GET', KEYS[t[2]])
      if record then
        local r = cjson.decode(record)
        if r.f ~= n.f then return cjson.encode({conflict = i - 1}) end
        dups[i .. ':' .. j] = r.i
      end
    end
  end
end
local b_epoch, b_offset = nil, nil
if plan.bm > 0 then
  b_epoch, b_offset = ensure(plan.bh, plan.bm, plan.be)
  b_offset = b_offset or '0-0'
elseif plan.bp ~= '' then
  b_epoch, b_offset = string.match(plan.bp, '^(%x+)%.(%d+%-%d+)$')
end
local t = redis.call('TIME')
local horizon = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - ttl) .. '-0'
local function trim(h, m)
  local dropped = nil
  local excess = redis.call('XLEN', h) - size
  if excess > 0 then
    local gone = redis.call('XRANGE', h, '-', '+', 'COUNT', excess)
    dropped = gone[#gone][1]
    redis.call('XTRIM', h, 'MAXLEN', size)
  end
  local old = redis.call('XREVRANGE', h, '(' .. horizon, '-', 'COUNT', 1)
  if #old > 0 then
    dropped = old[1][1]
    redis.call('XTRIM', h, 'MINID', horizon)
  end
  if dropped then
    local known = redis.call('HGET', m, 't')
    if not known or newer(dropped, known) then redis.call('HSET', m, 't', dropped) end
  end
end
local out = {}
for i, n in ipairs(plan.n) do
  local res = {}
  if n.bp ~= '' then b_epoch, b_offset = string.match(n.bp, '^(%x+)%.(%d+%-%d+)$') end
  for j, target in ipairs(n.t) do
    local dup = dups[i .. ':' .. j]
    if dup then
      res[j] = {dup = dup}
    else
      local s = plan.s[target[1]]
      local h, m = KEYS[s.h], KEYS[s.m]
      local epoch, _, previous = ensure(s.h, s.m, s.e)
      local stamp = ''
      if not s.b and b_epoch then
        local stamped = b_offset
        if previous then
          local pe, po = string.match(previous, '^(%x+)%.(%d+%-%d+)$')
          if pe == b_epoch and newer(po, stamped) then stamped = po end
        end
        stamp = b_epoch .. '.' .. stamped
      end
      local offset
      if n.k == '' then offset = redis.call('XADD', h, '*', 'e', n.e, 'd', n.d, 'c', n.c, 'x', n.x, 's', stamp)
      else offset = redis.call('XADD', h, '*', 'e', n.e, 'd', n.d, 'c', n.c, 'x', n.x, 's', stamp, 'k', n.k) end
      if stamp == '' then redis.call('HSET', m, 'o', offset)
      else redis.call('HSET', m, 'o', offset, 'bp', stamp) end
      if n.k ~= '' and s.k > 0 then
        -- A newer event with the same collapse key replaces the older one in the history.
        local replaced = redis.call('HGET', KEYS[s.k], n.k)
        redis.call('HSET', KEYS[s.k], n.k, offset)
        redis.call('PEXPIRE', KEYS[s.k], ttl)
        if replaced then redis.call('XDEL', h, replaced) end
      end
      trim(h, m)
      redis.call('PEXPIRE', h, ttl)
      redis.call('PEXPIRE', m, ttl)
      local id
      if s.b then
        b_epoch, b_offset = epoch, offset     -- later user events are stamped after it
        id = NO .. '.0-0.' .. epoch .. '.' .. offset
      else
        if stamp == '' then id = epoch .. '.' .. offset .. '.' .. NO .. '.0-0'
        else id = epoch .. '.' .. offset .. '.' .. stamp end
      end
      if target[2] > 0 then
        redis.call('SET', KEYS[target[2]], cjson.encode({f = n.f, i = id}), 'PX', ttl)
      end
      -- Empty fields are left out of the message (the reader defaults them to '').
      local message = {o = offset, p = epoch, e = n.e, d = n.d, c = n.c}
      if n.x ~= '' then message.x = n.x end
      if stamp ~= '' then message.s = stamp end
      if n.k ~= '' then message.k = n.k end
      redis.call(plan.pub, KEYS[s.c], cjson.encode(message))
      res[j] = {p = epoch, o = offset, s = stamp, i = id}
    end
  end
  out[i] = res
end
return cjson.encode({r = out})
"""

# KEYS: per stream read, its history stream and its meta hash (a user's and the broadcast
# one in one call on a single Redis: a connect's position is one call; one stream per call
# on a cluster, where they are in different slots).
# ARGV[1] ttl ms, ARGV[2] how many entries per stream (0: position only), then per stream:
# its epoch if new, the reader's epoch, the reader's offset.
# Returns per stream {epoch, last offset, highest trimmed offset, 1 if read from the start,
# entries}, or {} when one of its keys has another type (nothing of that stream is written;
# the other streams of the call are read: one foreign key fails only its own connect).
READ = r"""
local function foreign(key, want)
  local t = redis.call('TYPE', key)['ok']
  return t ~= 'none' and t ~= want
end
local count = tonumber(ARGV[2])
local out = {}
for s = 1, #KEYS / 2 do
  local h, m = KEYS[2 * s - 1], KEYS[2 * s]
  local candidate, epoch, offset = ARGV[3 * s], ARGV[3 * s + 1], ARGV[3 * s + 2]
  if foreign(h, 'stream') or foreign(m, 'hash') then
    out[s] = {}
  else
    if redis.call('EXISTS', h) == 0 and redis.call('HEXISTS', m, 'o') == 1 then
      redis.call('DEL', m)
    end
    if redis.call('HSETNX', m, 'e', candidate) == 1 then redis.call('PEXPIRE', m, ARGV[1]) end
    local meta = redis.call('HMGET', m, 'e', 'o', 't')
    local entries = {}
    local from_start = 1
    if count > 0 then
      local start = '-'
      if meta[1] == epoch and offset ~= '0-0' then
        start = '(' .. offset
        from_start = 0
      end
      entries = redis.call('XRANGE', h, start, '+', 'COUNT', count)
    end
    out[s] = {meta[1], meta[2] or '0-0', meta[3] or '0-0', from_start, entries}
  end
end
return out
"""

# KEYS: lease zsets, one per connect (member: connection id, score: lease expiry ms); one call
# takes the leases of the connects that came together (on a cluster: one per call).
# ARGV[1] now ms, ARGV[2] expiry ms, then per key: connection id, limit, "1" to evict oldest.
# Returns per key {1, evicted ids...} (granted), {0} (refused) or {-1} (not a zset: that
# connect fails, the others go on). Connection ids start with their creation time, so
# sorting members sorts by age.
ACQUIRE_LEASE = """
local out = {}
for k = 1, #KEYS do
  local key, id, limit, evict = KEYS[k], ARGV[3 * k], tonumber(ARGV[3 * k + 1]), ARGV[3 * k + 2]
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= 'zset' then
    out[k] = {-1}
  else
    redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
    local held = redis.call('ZRANGE', key, 0, -1)
    local evicted = {}
    local granted = 1
    if #held >= limit then
      if evict ~= '1' then
        granted = 0
      else
        table.sort(held)
        for i = 1, #held - limit + 1 do
          redis.call('ZREM', key, held[i])
          evicted[#evicted + 1] = held[i]
        end
      end
    end
    if granted == 1 then
      redis.call('ZADD', key, ARGV[2], id)
      redis.call('PEXPIREAT', key, ARGV[2])
    end
    out[k] = {granted, unpack(evicted)}
  end
end
return out
"""

# KEYS[1] lease zset; ARGV[1] expiry ms; ARGV[2..] connection ids held by this instance
RENEW_LEASES = """
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
"""
