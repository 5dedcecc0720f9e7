// The C side of dstack's Lua bridge: Lua's function-like macros, and the only places
// where Lua errors are raised.
//
// Rule: no Swift frame is ever between a Lua error (longjmp) and the `lua_pcall`
// that catches it. Swift host functions report failure by return value; the
// trampoline below raises the error after the Swift frame has returned.
#ifndef CLUASHIMS_H
#define CLUASHIMS_H

#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>

/// A Swift host function: reads its arguments from `L`, pushes its results and
/// returns how many; or pushes an error message and returns `CSHIMS_RAISE`.
typedef int (*clua_host_dispatch)(lua_State *L, void *function);

/// Returned by a host dispatch to ask the trampoline to raise the message on top of the stack.
#define CSHIMS_RAISE (-1)
/// Returned by a host dispatch to raise the value on top of the stack unchanged (no position).
#define CSHIMS_RAISE_VALUE (-2)

/// Pushes a C closure that calls `dispatch(L, function)`; `function` is owned by a
/// full userdata whose `__gc` calls `release(function)`.
void clua_push_host_function(lua_State *L, clua_host_dispatch dispatch, void *function,
                             void (*release)(void *function));

/// `lua_pcall` with `luaL_traceback` as message handler. On error the stack holds the
/// message (index -2) and the traceback (index -1); on success, the results.
int clua_pcall_traceback(lua_State *L, int nargs, int nresults);

/// Loads a text chunk (never bytecode) under `chunkname` (such as "@build.lua").
int clua_load_text(lua_State *L, const char *source, size_t length, const char *chunkname);

/// Creates a Lua state whose allocator never fails back into Lua, so no memory error can
/// ever unwind through a Swift frame: past 1 GiB held by the script it prints "the script
/// used more than 1 GiB of memory" and exits 1; when the system has no memory left it
/// aborts. Returns NULL only if the state itself cannot be allocated.
lua_State *clua_new_state(void);

/// Closes a state made by `clua_new_state` and frees its memory account.
void clua_close(lua_State *L);

/// Opens the libraries a dstack script may use: base, package, string, table, math,
/// utf8, coroutine and os (the sandbox prelude then removes what scripts may not use).
/// Runs under pcall; returns a Lua status.
int clua_open_libraries(lua_State *L);

/// Locks the table on top of the stack: reading a missing member raises
/// "NAME has no member 'x'" and adding one raises, both at the script line that did it.
void clua_lock_table(lua_State *L, const char *name);

/// Macros Swift cannot import.
int clua_registry_index(void);
void clua_pop(lua_State *L, int n);
int clua_is_integer(lua_State *L, int index);
void clua_collect_garbage(lua_State *L);

/* Line coverage: from now on every line that runs in a chunk loaded from a file (a chunk
   name starting with '@') is counted in a registry table, which clua_push_line_counts
   pushes: {[chunkname] = {[line] = count}}. The hook raises nothing but memory errors,
   which the running (protected) call receives. */
void clua_count_lines(lua_State *L);
void clua_push_line_counts(lua_State *L);

#endif
