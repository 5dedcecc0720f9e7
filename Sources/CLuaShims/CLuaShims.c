#include "CLuaShims.h"

#include <lua5.4/lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *HOST_FUNCTION_META = "dstack.HostFunction";

typedef struct {
  void *function;
  void (*release)(void *function);
} HostFunctionBox;

static int host_function_gc(lua_State *L) {
  HostFunctionBox *box = (HostFunctionBox *)lua_touserdata(L, 1);
  if (box != NULL && box->function != NULL) {
    box->release(box->function);
    box->function = NULL;
  }
  return 0;
}

static int host_function_trampoline(lua_State *L) {
  clua_host_dispatch dispatch = (clua_host_dispatch)lua_touserdata(L, lua_upvalueindex(1));
  HostFunctionBox *box = (HostFunctionBox *)lua_touserdata(L, lua_upvalueindex(2));
  int results = dispatch(L, box->function);
  if (results == CSHIMS_RAISE) {
    /* Prefix the caller's position, as luaL_error does. */
    luaL_where(L, 1);
    lua_insert(L, -2);
    lua_concat(L, 2);
    return lua_error(L);
  }
  if (results == CSHIMS_RAISE_VALUE) return lua_error(L);
  return results;
}

void clua_push_host_function(lua_State *L, clua_host_dispatch dispatch, void *function,
                             void (*release)(void *function)) {
  lua_pushlightuserdata(L, (void *)dispatch);
  HostFunctionBox *box = (HostFunctionBox *)lua_newuserdatauv(L, sizeof(HostFunctionBox), 0);
  box->function = function;
  box->release = release;
  if (luaL_newmetatable(L, HOST_FUNCTION_META)) {
    lua_pushcfunction(L, host_function_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
  }
  lua_setmetatable(L, -2);
  lua_pushcclosure(L, host_function_trampoline, 2);
}

static int traceback_handler(lua_State *L) {
  /* Keep the original error value; build the traceback beside it. */
  const char *message = lua_tostring(L, 1);
  if (message == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
      message = lua_tostring(L, -1);
    } else {
      message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
  }
  luaL_traceback(L, L, message, 1);
  /* Return a table {message, traceback} so both survive the unwinding. */
  lua_createtable(L, 2, 0);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, -2);
  lua_rawseti(L, -2, 2);
  return 1;
}

int clua_pcall_traceback(lua_State *L, int nargs, int nresults) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, traceback_handler);
  lua_insert(L, base);
  int status = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  if (status != LUA_OK) {
    /* Unpack {message, traceback}; a memory error skips the handler. */
    if (lua_type(L, -1) == LUA_TTABLE) {
      lua_rawgeti(L, -1, 1);
      lua_rawgeti(L, -2, 2);
      lua_remove(L, -3);
    } else {
      lua_pushnil(L);
    }
  }
  return status;
}

int clua_load_text(lua_State *L, const char *source, size_t length, const char *chunkname) {
  return luaL_loadbufferx(L, source, length, chunkname, "t");
}

/* The most memory one script may hold; past it dstack stops with a message. */
#define SCRIPT_MEMORY_LIMIT ((size_t)1 << 30)

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  size_t *used = (size_t *)ud;
  size_t old = ptr == NULL ? 0 : osize; /* for a new block, osize is a type tag */
  if (nsize == 0) {
    free(ptr);
    *used -= old;
    return NULL;
  }
  if (nsize > old && *used - old + nsize > SCRIPT_MEMORY_LIMIT) {
    fflush(stdout);
    fputs("dstack: the script used more than 1 GiB of memory and was stopped\n", stderr);
    exit(1);
  }
  void *block = realloc(ptr, nsize);
  if (block == NULL) {
    fflush(stdout);
    fputs("dstack: out of memory in the Lua interpreter\n", stderr);
    abort();
  }
  *used = *used - old + nsize;
  return block;
}

static int panic(lua_State *L) {
  fprintf(stderr, "dstack: unprotected Lua error: %s\n", lua_tostring(L, -1));
  abort();
}

lua_State *clua_new_state(void) {
  size_t *used = calloc(1, sizeof *used);
  if (used == NULL) return NULL;
  lua_State *L = lua_newstate(limited_alloc, used);
  if (L == NULL) {
    free(used);
    return NULL;
  }
  lua_atpanic(L, panic);
  return L;
}

void clua_close(lua_State *L) {
  void *used = NULL;
  lua_getallocf(L, &used);
  lua_close(L);
  free(used);
}

static int open_libraries(lua_State *L) {
  static const luaL_Reg libraries[] = {
      {LUA_GNAME, luaopen_base},         {LUA_LOADLIBNAME, luaopen_package},
      {LUA_STRLIBNAME, luaopen_string},  {LUA_TABLIBNAME, luaopen_table},
      {LUA_MATHLIBNAME, luaopen_math},   {LUA_UTF8LIBNAME, luaopen_utf8},
      {LUA_COLIBNAME, luaopen_coroutine}, {LUA_OSLIBNAME, luaopen_os},
      {NULL, NULL}};
  for (const luaL_Reg *library = libraries; library->func != NULL; library++) {
    luaL_requiref(L, library->name, library->func, 1);
    lua_pop(L, 1);
  }
  return 0;
}

int clua_open_libraries(lua_State *L) {
  lua_pushcfunction(L, open_libraries);
  return lua_pcall(L, 0, 0, 0);
}

int clua_registry_index(void) { return LUA_REGISTRYINDEX; }
void clua_pop(lua_State *L, int n) { lua_pop(L, n); }
int clua_is_integer(lua_State *L, int index) { return lua_isinteger(L, index); }
void clua_collect_garbage(lua_State *L) { lua_gc(L, LUA_GCCOLLECT, 0); }

static const char *const line_counts_key = "dstack.line_counts";

static void count_line(lua_State *L, lua_Debug *ar) {
  if (!lua_getinfo(L, "S", ar) || ar->source[0] != '@') return;
  lua_getfield(L, LUA_REGISTRYINDEX, line_counts_key);
  if (lua_getfield(L, -1, ar->source) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, ar->source);
  }
  lua_rawgeti(L, -1, ar->currentline);
  lua_Integer count = lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_pushinteger(L, count + 1);
  lua_rawseti(L, -2, ar->currentline);
  lua_pop(L, 2);
}

void clua_count_lines(lua_State *L) {
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, line_counts_key);
  lua_sethook(L, count_line, LUA_MASKLINE, 0);
}

void clua_push_line_counts(lua_State *L) { lua_getfield(L, LUA_REGISTRYINDEX, line_counts_key); }

static int locked_index(lua_State *L) {
  const char *name = lua_tostring(L, lua_upvalueindex(1));
  const char *key = luaL_tolstring(L, 2, NULL);
  luaL_where(L, 1);
  lua_pushfstring(L, "%s has no member '%s'", name, key);
  lua_concat(L, 2);
  return lua_error(L);
}

static int locked_newindex(lua_State *L) {
  const char *name = lua_tostring(L, lua_upvalueindex(1));
  const char *key = luaL_tolstring(L, 2, NULL);
  luaL_where(L, 1);
  lua_pushfstring(L, "cannot add '%s' to %s: the dstack API is fixed (use a local variable)", key, name);
  lua_concat(L, 2);
  return lua_error(L);
}

void clua_lock_table(lua_State *L, const char *name) {
  lua_createtable(L, 0, 3);
  lua_pushstring(L, name);
  lua_pushcclosure(L, locked_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);
  lua_pushcclosure(L, locked_newindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}
