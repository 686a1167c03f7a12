/*
 * The probe and metrics handler (see mf_http_health_handler in
 * mailferry/http.h): maps /healthz, /readyz and /metrics onto the
 * program's callbacks. Kubernetes only looks at the status code; the short
 * bodies are for people running curl.
 */
#include "mailferry/http.h"

#include <string.h>

#define WHY_MAX 256

void
mf_http_health_handler(void *ud, const char *method, const char *path,
                       struct mf_http_response *resp) {
    const struct mf_http_health *h = ud;
    (void)method; /* GET and HEAD answer alike; the server drops HEAD's body */
    resp->content_type = "text/plain; charset=utf-8";
    if (strcmp(path, "/healthz") == 0) {
        bool alive = !h->alive || h->alive(h->ud);
        resp->status = alive ? 200 : 503;
        mf_buf_append_str(&resp->body, alive ? "ok\n" : "not alive\n");
    } else if (strcmp(path, "/readyz") == 0) {
        char why[WHY_MAX] = "";
        bool ready = !h->ready || h->ready(h->ud, why, sizeof(why));
        why[sizeof(why) - 1] = '\0';
        resp->status = ready ? 200 : 503;
        if (ready)
            mf_buf_append_str(&resp->body, "ready\n");
        else
            mf_buf_appendf(&resp->body, "not ready: %s\n",
                           why[0] ? why : "unknown reason");
    } else if (strcmp(path, "/metrics") == 0 && h->metrics) {
        if (h->collect)
            h->collect(h->ud, h->metrics);
        resp->status = 200;
        resp->content_type = MF_METRICS_CONTENT_TYPE;
        mf_metrics_render(h->metrics, &resp->body);
    } else {
        resp->status = 404;
    }
}
