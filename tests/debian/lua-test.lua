-- lua-test.lua: run by Debian's riscv64 lua5.4 (dynamically linked) in an
-- empty copy of tests/debian/data.  Prints only what is the same on every run.

local function section(name) io.write("\n== ", name, "\n") end

section("numbers")
print(1 + 2, 7 // 2, 7 / 2, 7 % 3, -7 // 2, -7 % 3, 2 ^ 10, 10 // 0.0, -10 % 0.0 ~= -10 % 0.0)
print(math.maxinteger, math.mininteger, math.maxinteger + 1 == math.mininteger)
print(0x7fffffff * 0x7fffffff, 1 << 62, 0xff ~ 0x0f, 0xf0 | 0x0f, 0xff & 0x3c, ~0, -1 >> 60)
print(math.pi, math.sqrt(2), math.sin(1), math.exp(1), math.log(100, 10), math.log(8, 2))
print(math.floor(-3.5), math.ceil(-3.5), math.fmod(-7, 3), math.abs(-4), math.tointeger(3.0), math.type(1), math.type(1.0))
print(string.format("%.17g %.3e %a %g %g %g", 0.1, 6.02214076e23, 1.0, 1e300 * 1e10, 0 / 0, -(0 / 0)))
print(3 == 3.0, math.ult(1, -1), 1e15, 1e16, 2 ^ 53 + 1, 123456789012 * 1000)
print(tostring(1 / 3), tonumber("0x1p4"), tonumber("  42  "), tonumber("z", 36), tonumber("10", 2), tonumber("1e2"))
local acc = 0.0
for i = 1, 1000 do acc = acc + 1 / i end
print(string.format("harmonic(1000) = %.15f", acc))
math.randomseed(42)
local r = {}
for i = 1, 5 do r[i] = math.random(1, 100) end
print("random:", table.concat(r, " "), math.random(0) ~= nil)

section("strings")
local s = "The quick brown fox jumps over the lazy dog"
print(#s, s:upper(), s:lower():rep(2, "|"):sub(1, 50))
print(s:find("fox"), s:find("o", 20, true), s:match("(%a+) dog"), s:byte(1, 3))
print((s:gsub("%w+", function(w) return w:sub(1, 1):upper() .. w:sub(2):reverse() end)))
local words = {}
for w in s:gmatch("%a+") do words[#words + 1] = w end
table.sort(words, function(a, b) return a:lower() < b:lower() end)
print(table.concat(words, ","))
print(string.format("[%5s][%-5s][%05d][%+.2f][%x][%X][%o][%q]", "ab", "cd", 42, 3.14159, 255, 255, 8, "a\nb\"c"))
print(("%d items at %s"):format(3, "home"), string.char(72, 105), ("abc"):rep(3))
print(utf8.char(72, 228, 8364, 128512), utf8.len("häll€"), #"häll€")
for p, c in utf8.codes("aé€") do io.write(p, ":", c, " ") end
print()
local packed = string.pack("<i4 >i2 z d", -2, 258, "hi", 1.5)
print(#packed, (packed:gsub(".", function(c) return string.format("%02x", c:byte()) end)))
print(string.unpack("<i4 >i2 z d", packed))

section("tables")
local t = {}
for i = 1, 10 do t[i] = i * i end
table.insert(t, 1, 0)
table.remove(t, 5)
print(#t, table.concat(t, " "), select("#", table.unpack(t)))
local m = table.move({1, 2, 3}, 1, 3, 2, {9})
print(table.concat(m, " "))
local keys = {}
local dict = {zeta = 1, alpha = 2, mid = 3, [10] = "ten"}
for k in pairs(dict) do keys[#keys + 1] = tostring(k) end
table.sort(keys)
print(table.concat(keys, " "))
local people = {{name = "ann", age = 31}, {name = "bob", age = 25}, {name = "cy", age = 31}, {name = "di", age = 19}}
table.sort(people, function(a, b) if a.age ~= b.age then return a.age > b.age end return a.name < b.name end)
for _, p in ipairs(people) do io.write(p.name, "=", p.age, " ") end
print()

section("metatables and closures")
local Vec = {}
Vec.__index = Vec
function Vec.new(x, y) return setmetatable({x = x, y = y}, Vec) end
function Vec.__add(a, b) return Vec.new(a.x + b.x, a.y + b.y) end
function Vec.__eq(a, b) return a.x == b.x and a.y == b.y end
function Vec.__tostring(v) return "(" .. v.x .. "," .. v.y .. ")" end
function Vec:len() return math.sqrt(self.x ^ 2 + self.y ^ 2) end
local v = Vec.new(3, 4) + Vec.new(0, 0)
print(tostring(v), v:len(), v == Vec.new(3, 4), rawequal(v, Vec.new(3, 4)))
local function counter()
  local n = 0
  return function() n = n + 1; return n end
end
local c1, c2 = counter(), counter()
c1(); c1()
print(c1(), c2())
local memo = setmetatable({}, {__index = function(tbl, k)
  local val = k < 2 and k or tbl[k - 1] + tbl[k - 2]
  rawset(tbl, k, val)
  return val
end})
print("fib(90) =", memo[90])
local function sum(...)
  local total = 0
  for _, x in ipairs({...}) do total = total + x end
  return total, select("#", ...)
end
print(sum(1, 2, 3, 4.5))

section("errors and coroutines")
local ok, e = pcall(error, {code = 7}); print(ok, type(e), e.code)
print(select(2, pcall(function() error("boom", 0) end)))
print(select(2, pcall(function() local x = nil; return x.field end)) ~= nil)
print(xpcall(function() return 1 + {} end, function(msg) return "handled: " .. tostring(msg):gsub("^.-:%d+: ", "") end))
local gen = coroutine.wrap(function()
  for i = 1, 3 do coroutine.yield(i * 10) end
  return "done"
end)
print(gen(), gen(), gen(), gen())
local co = coroutine.create(function(a, b)
  local c = coroutine.yield(a + b)
  local d, e = coroutine.yield(c * 2)
  return d + e
end)
print(coroutine.resume(co, 1, 2))
print(coroutine.resume(co, 10))
print(coroutine.resume(co, 3, 4))
print(coroutine.resume(co), coroutine.status(co))
local f = load("local a, b = ... return a * b")
print(f(6, 7), load("syntax error here") == nil)
do
  local i = 1
  ::top::
  if i < 4 then i = i + 1; goto top end
  print("goto reached", i)
end

section("files")
local out = assert(io.open("lua-out.txt", "w"))
for i = 1, 5 do out:write(string.format("line %d: %s\n", i, string.rep("*", i))) end
out:write("last line without newline")
out:close()
local lines = {}
for line in io.lines("lua-out.txt") do lines[#lines + 1] = line end
print(#lines, lines[3], lines[#lines])
local fh = assert(io.open("lua-out.txt", "rb"))
local all = fh:read("a")
print(#all, fh:seek("set", 5), fh:read(4), fh:seek("cur"), fh:seek("end"))
fh:close()
local fa = assert(io.open("lua-out.txt", "a"))
fa:write("\n12 34.5 0x10\n")
fa:close()
fh = assert(io.open("lua-out.txt"))
fh:seek("set", #all + 1)
print(fh:read("n", "n", "n"))
fh:close()
local wc = 0
for line in io.lines("words.txt") do wc = wc + 1 end
print("words.txt lines:", wc)
print(io.open("no-such-file") == nil, select(2, io.open("no-such-file")))
print(os.rename("lua-out.txt", "lua-moved.txt"), io.open("lua-out.txt") == nil)
print(os.remove("lua-moved.txt"), os.remove("lua-moved.txt") == nil)
io.stdout:write("stdout write ", 1, " ", 2.5, "\n")

section("time")
print(os.time({year = 2024, month = 2, day = 29, hour = 12, min = 0, sec = 0, isdst = false}) ~= nil)
print(os.date("!%Y-%m-%d %H:%M:%S %A %j", 1700000000))
print(os.date("!%c", 0))
local d = os.date("!*t", 951782400)
print(d.year, d.month, d.day, d.wday, d.yday, d.isdst)
print(os.difftime(100, 40), type(os.clock()))
os.exit(3)
