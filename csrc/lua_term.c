/* lua_term.c: core.term, what `vigi shell` (lua/vigi/shell.lua) needs of
 * the terminal it runs on and that plain Lua cannot do:
 *
 *   term.isatty(fd) -> bool
 *   term.read(fd, max) -> bytes        what one read(2) gave (at most max,
 *                                      4096); "" if it would block or a
 *                                      signal came; nil at end of file;
 *                                      nil, message on failure. Called once
 *                                      the fd is readable (wait.lua), so a
 *                                      descriptor shared with the parent
 *                                      shell is never made non-blocking.
 *   term.echo(fd, on) -> was           terminal echo on or off (password
 *                                      prompts); nil when fd is no terminal
 *   term.catch(true) -> fd             Ctrl-C, SIGTERM and SIGHUP no longer
 *                                      end the process: each is noted and
 *                                      makes fd readable (a self-pipe), so
 *                                      that a wait on it wakes (the shell
 *                                      then stops a call, or ends cleanly);
 *                                      term.catch(false) gives the three
 *                                      signals back their previous actions
 *   term.sigints() -> n                Ctrl-Cs since the last call (and the
 *                                      pipe drained)
 *   term.ending() -> bool              whether SIGTERM or SIGHUP came
 *   term.rl_hide() / rl_show()         around a line printed while GNU
 *                                      readline shows a prompt: clear the
 *                                      prompt and what is typed, then draw
 *                                      them again; false when no readline
 *                                      is loaded
 *   term.rl_word_breaks(chars) -> ok   readline's completion word breaks
 *   term.rl_release() -> ok            readline lets go of the terminal (its
 *                                      settings put back) and of the
 *                                      binding's stream; call it before the
 *                                      binding's handler_remove (below);
 *                                      false when no readline is loaded
 *
 * Signals are the process's, so the counter and the pipe are too: the
 * one piece of global state of the core, and only while a shell runs.
 *
 * The rl_ functions reach the GNU readline that the Lua binding
 * (lua-readline) loaded: the binding offers the callback interface but not
 * these, and linking readline here would make every user of the core
 * depend on it. They are looked up in the library already in the process
 * (RTLD_NOLOAD), never loaded by this file.
 *
 * Why rl_release: the binding's handler_remove closes the terminal stream
 * it gave readline (rl_instream, rl_outstream) and only then calls
 * rl_callback_handler_remove. When a prompt is still up (Ctrl-C, SIGTERM
 * or a hang-up at the prompt), readline then puts the terminal back
 * through that closed stream: it writes into freed memory (heap corruption,
 * "free(): invalid pointer" later) and the terminal is left without echo.
 * Removing the handler first, while the stream is open, leaves the
 * binding's own removal nothing to undo. */
#define _GNU_SOURCE
#include "compat.h"
#include "lua_sock.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int l_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)) == 1);
  return 1;
}

static int l_read(lua_State *L) {
  char buf[4096];
  int fd = (int)luaL_checkinteger(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, (lua_Integer)sizeof buf);
  ssize_t n;
  luaL_argcheck(L, max > 0, 2, "must be positive");
  if (max > (lua_Integer)sizeof buf) max = (lua_Integer)sizeof buf;
  n = read(fd, buf, (size_t)max);
  if (n > 0) {
    lua_pushlstring(L, buf, (size_t)n);
    return 1;
  }
  if (n == 0) {
    lua_pushnil(L);
    return 1;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    lua_pushliteral(L, "");
    return 1;
  }
  return vigi_sock_fail(L, errno);
}

static int l_echo(lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 1);
  int on = lua_toboolean(L, 2);
  struct termios t;
  int was;
  if (tcgetattr(fd, &t) != 0) {
    lua_pushnil(L);
    return 1;
  }
  was = (t.c_lflag & ECHO) != 0;
  if (on) t.c_lflag |= ECHO;
  else t.c_lflag &= ~(tcflag_t)ECHO;
  if (tcsetattr(fd, TCSANOW, &t) != 0) return vigi_sock_fail(L, errno);
  lua_pushboolean(L, was);
  return 1;
}

static volatile sig_atomic_t sigint_count, ending;
static int sigint_taken;
static int sig_pipe[2] = {-1, -1};
static const int caught_signals[3] = {SIGINT, SIGTERM, SIGHUP};
static struct sigaction old_actions[3];
static int catching;

static void on_signal(int sig) {
  int saved = errno;
  if (sig == SIGINT) sigint_count++;
  else ending = 1;
  if (sig_pipe[1] >= 0) {
    ssize_t r = write(sig_pipe[1], "!", 1); /* full pipe: the fd is readable anyway */
    (void)r;
  }
  errno = saved;
}

static int l_catch(lua_State *L) {
  int i;
  if (lua_toboolean(L, 1)) {
    struct sigaction sa;
    if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0) return vigi_sock_fail(L, errno);
    if (!catching) {
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = on_signal;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART; /* the pipe wakes the waits; other calls go on */
      for (i = 0; i < 3; i++)
        if (sigaction(caught_signals[i], &sa, &old_actions[i]) != 0) return vigi_sock_fail(L, errno);
      catching = 1;
    }
    lua_pushinteger(L, sig_pipe[0]);
    return 1;
  }
  if (catching) {
    for (i = 0; i < 3; i++) sigaction(caught_signals[i], &old_actions[i], NULL);
    catching = 0;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int l_sigints(lua_State *L) {
  char buf[64];
  int now = sigint_count;
  /* Cheap when nothing came: the count hook asks every 1000 instructions. */
  if (now != sigint_taken && sig_pipe[0] >= 0)
    while (read(sig_pipe[0], buf, sizeof buf) > 0) {
    }
  lua_pushinteger(L, now - sigint_taken);
  sigint_taken = now;
  return 1;
}

static int l_ending(lua_State *L) {
  lua_pushboolean(L, ending != 0);
  return 1;
}

/* A symbol of the readline already loaded, or NULL. */
static void *rl_symbol(const char *name) {
  static const char *const sonames[] = {"libreadline.so.8", "libreadline.so.7", "libreadline.so", NULL};
  int i;
  for (i = 0; sonames[i]; i++) {
    void *h = dlopen(sonames[i], RTLD_LAZY | RTLD_NOLOAD);
    if (h) {
      void *s = dlsym(h, name);
      dlclose(h); /* NOLOAD took a reference; the library stays */
      if (s) return s;
    }
  }
  return NULL;
}

typedef int (*rl_void_fn)(void);

static int rl_call(lua_State *L, const char *name) {
  rl_void_fn f;
  void *s = rl_symbol(name);
  FILE **out = rl_symbol("rl_outstream");
  if (!s) {
    lua_pushboolean(L, 0);
    return 1;
  }
  memcpy(&f, &s, sizeof f); /* data to function pointer, as POSIX allows */
  f();
  /* readline writes through stdio; what it wrote must reach the terminal
   * before what the shell writes next */
  fflush(out && *out ? *out : stdout);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_rl_hide(lua_State *L) { return rl_call(L, "rl_clear_visible_line"); }
static int l_rl_show(lua_State *L) { return rl_call(L, "rl_forced_update_display"); }

static int l_rl_release(lua_State *L) {
  FILE **in = rl_symbol("rl_instream");
  FILE **out = rl_symbol("rl_outstream");
  int r = rl_call(L, "rl_callback_handler_remove");
  /* The binding closes the stream next: readline falls back to stdin and
   * stdout rather than keep pointers to it. */
  if (in) *in = NULL;
  if (out) *out = NULL;
  return r;
}

static int l_rl_word_breaks(lua_State *L) {
  static char breaks[64];
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  const char **var = rl_symbol("rl_completer_word_break_characters");
  luaL_argcheck(L, len < sizeof breaks, 1, "too long");
  if (!var) {
    lua_pushboolean(L, 0);
    return 1;
  }
  memcpy(breaks, s, len + 1);
  *var = breaks;
  lua_pushboolean(L, 1);
  return 1;
}

void vigi_open_term(lua_State *L);
void vigi_open_term(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"isatty", l_isatty}, {"read", l_read}, {"echo", l_echo},
    {"catch", l_catch}, {"sigints", l_sigints}, {"ending", l_ending},
    {"rl_hide", l_rl_hide}, {"rl_show", l_rl_show}, {"rl_word_breaks", l_rl_word_breaks},
    {"rl_release", l_rl_release},
    {NULL, NULL}
  };
  luaL_newlib(L, funcs);
  lua_setfield(L, -2, "term");
}
