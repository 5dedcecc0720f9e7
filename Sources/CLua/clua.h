// Debian's Lua 5.4 headers (liblua5.4-dev), linked statically (see Package.swift).
#include <lua5.4/lua.h>
#include <lua5.4/lualib.h>
#include <lua5.4/lauxlib.h>
