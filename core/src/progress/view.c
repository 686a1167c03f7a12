/*
 * The progress output (mailferry/progress.h): on a terminal, the display
 * redrawn in place; elsewhere (a pipe, a file, a CI log), a summary line
 * now and then.
 *
 * In place: every line of the display ends with a newline, so between
 * draws the cursor rests at the start of the line below it. A redraw
 * moves up over the lines drawn last time (CSI n A, cursor up), rewrites
 * each line after erasing it (CSI 2 K), and erases whatever is left
 * below (CSI J) when the display got shorter; this is ECMA-48, which
 * every terminal in use speaks. A line printed by the program between
 * two draws (migrate's line per finished mailbox) goes where the display
 * stood after mf_progress_view_clear(), and the next draw comes below
 * it, so finished lines scroll up above the display. Lines are one
 * column narrower than the terminal: a line that fills the last column
 * leaves some terminals with a pending wrap that the newline doubles,
 * and the cursor-up count would then be one short.
 */
#include "mailferry/progress.h"

#include "mailferry/util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Lines of the display at most, whatever the terminal's height: the
 * head, the figures, the connections and the mailboxes in flight. */
#define DISPLAY_LINES 24

static unsigned
env_u(const char *name, unsigned dflt) {
    const char *v = getenv(name);
    uint64_t n;

    return v && mf_parse_u64(v, 1, 10000, &n) ? (unsigned)n : dflt;
}

void
mf_progress_term_size(int fd, unsigned *width_r, unsigned *height_r) {
    struct winsize ws;

    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        *width_r = ws.ws_col;
        *height_r = ws.ws_row;
        return;
    }
    *width_r = env_u("COLUMNS", 80);
    *height_r = env_u("LINES", 24);
}

void
mf_progress_view_init(struct mf_progress_view *v, FILE *out, bool tty,
                      double interval_s) {
    memset(v, 0, sizeof(*v));
    v->out = out;
    v->tty = tty;
    v->interval_s = interval_s > 0 ? interval_s : 0;
    v->last_line = -1;
    v->fd = fileno(out);
    mf_progress_meter_init(&v->meter, 0);
}

bool
mf_progress_view_open(struct mf_progress_view *v, double interval_s) {
    bool tty;

    if (interval_s <= 0)
        return false;
    tty = isatty(STDERR_FILENO);
    mf_progress_view_init(v, tty ? stderr : stdout, tty, interval_s);
    return true;
}

void
mf_progress_view_clear(struct mf_progress_view *v) {
    if (!v->tty || !v->drawn)
        return;
    fprintf(v->out, "\r\033[%uA\033[J", v->drawn);
    fflush(v->out);
    v->drawn = 0;
}

static void
draw(struct mf_progress_view *v, const struct mf_progress_snapshot *s) {
    struct mf_progress_lines *l = mf_xmalloc(sizeof(*l));
    unsigned width, height;

    mf_progress_term_size(v->fd, &width, &height);
    height = height > 1 ? height - 1 : 1;
    mf_progress_render(s, &v->last, width > 1 ? width - 1 : 1,
                       height < DISPLAY_LINES ? height : DISPLAY_LINES, l);
    if (v->drawn)
        fprintf(v->out, "\r\033[%uA", v->drawn);
    for (size_t i = 0; i < l->n; i++)
        fprintf(v->out, "\033[2K%s\n", l->line[i]);
    fputs("\033[J", v->out);
    fflush(v->out);
    v->drawn = (unsigned)l->n;
    free(l);
}

void
mf_progress_view_update(struct mf_progress_view *v,
                        const struct mf_progress_snapshot *s, bool final) {
    char line[2048];

    mf_progress_meter_add(&v->meter, s->at, s->messages_done, s->bytes_done);
    mf_progress_figures_compute(s, &v->meter, &v->last);
    if (v->tty) {
        draw(v, s);
        return;
    }
    if (!v->interval_s)
        return;
    /* The first update prints (where the run starts from), then one
     * line an interval, and the last one always. */
    if (!final && v->last_line >= 0 && s->at - v->last_line < v->interval_s)
        return;
    v->last_line = s->at;
    mf_progress_summary(s, &v->last, line, sizeof(line));
    fprintf(v->out, "%s\n", line);
    fflush(v->out);
}
